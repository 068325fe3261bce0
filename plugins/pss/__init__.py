"""Parental Stress Scale (``pss``, Berry & Jones 1995): 18 items, total 18-90, no bands.

The author asks to be contacted before electronic use: the definition carries
project-written labels; the official wording comes as a wording pack.
"""

from pathlib import Path

from formengine.api import Instrument, Reliability, hookimpl, load_definition

from .scoring import SCORING_VERSION, score

REQUIRES_API = ">=1.0,<2"

# Internal consistency of the total in the scale's first publication (it also reports a
# test-retest reliability of .81); the Reliable Change Index of the reports uses it.
RELIABILITY = (Reliability(
    score="total", coefficient=0.83, kind="cronbach_alpha",
    source="Berry JO, Jones WH (1995). The Parental Stress Scale: initial psychometric evidence. "
           "Journal of Social and Personal Relationships 12(3):463-472"),)
__version__ = "1.0.0"


@hookimpl
def formengine_instruments():
    definition = load_definition(Path(__file__).with_name("definition.json"))
    return [Instrument(definition=definition, score=score, scoring_version=SCORING_VERSION,
                       reliability=RELIABILITY)]
