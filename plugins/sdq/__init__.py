"""Strengths and Difficulties Questionnaire: parent, self and teacher versions (4-17 years).

The whole questionnaire is one definition per version (the scales may not be
administered separately). Official wording is licensed by Youthinmind and
comes as a wording pack; the definitions carry project-written labels.
"""

from pathlib import Path

from formengine.api import Instrument, hookimpl, load_definition

from .scoring import SCORING_VERSION, score_for

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"

INSTRUMENT_IDS = ("sdq_p4_17", "sdq_s11_17", "sdq_t4_17")


@hookimpl
def formengine_instruments():
    here = Path(__file__).parent
    return [
        Instrument(definition=load_definition(here / f"{instrument_id}.json"),
                   score=score_for(instrument_id), scoring_version=SCORING_VERSION)
        for instrument_id in INSTRUMENT_IDS
    ]
