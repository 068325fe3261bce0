"""WHO-5 Well-Being Index (``who5``): five items, raw 0-25, percent 0-100 with bands."""

from pathlib import Path

from formengine.api import Instrument, hookimpl, load_definition

from .scoring import SCORING_VERSION, score

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"


@hookimpl
def formengine_instruments():
    definition = load_definition(Path(__file__).with_name("definition.json"))
    return [Instrument(definition=definition, score=score, scoring_version=SCORING_VERSION)]


@hookimpl
def formengine_default_plan():
    """Young people aged 18 or more answer WHO-5 about themselves at every wave."""
    return [{"instrument_id": "who5", "respondent_role": "youth", "min_age": 18,
             "waves": ["baseline", "progress", "closing"]}]
