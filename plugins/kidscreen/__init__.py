"""KIDSCREEN-10 Index: child self-report (``kidscreen10_child``) and parent proxy (``kidscreen10_parent``).

Both versions score the raw sum 10-50; the T-value needs an installed norm
pack (``instance/norms/<instrument_id>.json``). Official wording comes as a
wording pack; the definitions carry project-written labels.
"""

from pathlib import Path

from formengine.api import Instrument, Reliability, hookimpl, load_definition

from .scoring import SCORING_VERSION, score

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"

INSTRUMENT_IDS = ("kidscreen10_child", "kidscreen10_parent")

# Cronbach's alpha of the index in the European validation sample: 0.82 self-report, 0.78
# parent proxy report (test-retest ICC 0.70 and 0.67). The T-value is a transformation of the
# same ten answers, so it carries the same coefficient.
_SOURCE = ("Ravens-Sieberer U et al. (2010). Reliability, construct and criterion validity of the "
           "KIDSCREEN-10 score. Quality of Life Research 19(10):1487-1500")
ALPHA = {"kidscreen10_child": 0.82, "kidscreen10_parent": 0.78}


def _reliability(instrument_id: str) -> tuple[Reliability, ...]:
    return tuple(Reliability(score=name, coefficient=ALPHA[instrument_id], kind="cronbach_alpha",
                             source=_SOURCE) for name in ("raw", "t_value"))


@hookimpl
def formengine_instruments():
    here = Path(__file__).parent
    return [
        Instrument(definition=load_definition(here / f"{instrument_id}.json"), score=score,
                   scoring_version=SCORING_VERSION, reliability=_reliability(instrument_id))
        for instrument_id in INSTRUMENT_IDS
    ]
