"""Parental Stress Scale (``pss``, Berry & Jones 1995): 18 items, total 18-90, no bands.

The author asks to be contacted before electronic use: the definition carries
project-written labels; the official wording comes as a wording pack.
"""

from pathlib import Path

from formengine.api import Instrument, hookimpl, load_definition

from .scoring import SCORING_VERSION, score

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"


@hookimpl
def formengine_instruments():
    definition = load_definition(Path(__file__).with_name("definition.json"))
    return [Instrument(definition=definition, score=score, scoring_version=SCORING_VERSION)]
