"""LØFT worksheet (``loft_worksheet``): solution-focused goals, dated 0-10 scalings, exceptions, next step.

Built only on the public plugin API (``formengine.api``), as a municipality's
own developer would build it. Its result view charts each goal's scaling
across the person's worksheets over time; goals are followed by goal number.
"""

from __future__ import annotations

from pathlib import Path

from formengine.api import Instrument, Markup, hookimpl, load_definition

from . import views
from .summary import SCORING_VERSION, summarise

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"

INSTRUMENT_ID = "loft_worksheet"


@hookimpl
def formengine_instruments():
    definition = load_definition(Path(__file__).with_name("definition.json"))
    return [Instrument(definition=definition, score=summarise, scoring_version=SCORING_VERSION)]


@hookimpl
def formengine_result_view(response, instrument, history, lang) -> Markup | None:
    """Each goal's scaling over time (a line per goal), then this worksheet's own notes."""
    if instrument is None or instrument.id != INSTRUMENT_ID:
        return None
    return views.result(response, list(history or []), instrument.definition, lang)
