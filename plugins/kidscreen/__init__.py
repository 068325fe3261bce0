"""KIDSCREEN-10 Index: child self-report (``kidscreen10_child``) and parent proxy (``kidscreen10_parent``).

Both versions score the raw sum 10-50; the T-value needs an installed norm
pack (``instance/norms/<instrument_id>.json``). Official wording comes as a
wording pack; the definitions carry project-written labels.
"""

from pathlib import Path

from formengine.api import Instrument, hookimpl, load_definition

from .scoring import SCORING_VERSION, score

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"

INSTRUMENT_IDS = ("kidscreen10_child", "kidscreen10_parent")


@hookimpl
def formengine_instruments():
    here = Path(__file__).parent
    return [
        Instrument(definition=load_definition(here / f"{instrument_id}.json"), score=score,
                   scoring_version=SCORING_VERSION)
        for instrument_id in INSTRUMENT_IDS
    ]
