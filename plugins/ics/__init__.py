"""ICS worksheet (``ics_worksheet``): resources, concerns and a rating for the ten ICS dimensions.

Built only on the public plugin API (``formengine.api``), as a municipality's
own developer would build it: a definition, a summary, a colour-coded rating
widget and a result view that draws the ICS triangle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from formengine.api import Instrument, Markup, hookimpl, load_definition

from . import views
from .summary import SCORING_VERSION, summarise

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"

INSTRUMENT_ID = "ics_worksheet"


def _definition():
    return load_definition(Path(__file__).with_name("definition.json"))


@hookimpl
def formengine_instruments():
    return [Instrument(definition=_definition(), score=summarise, scoring_version=SCORING_VERSION)]


@hookimpl
def formengine_render_widget(item, definition, value, lang, texts) -> Markup | None:
    """The ``ics.rating`` widget: the four ratings as colour-coded, labelled radio buttons."""
    if definition.id != INSTRUMENT_ID or item.get("widget") != "ics.rating":
        return None
    return views.rating_widget(item, definition, value, lang, texts)


@hookimpl
def formengine_result_view(response, instrument, history, lang) -> Markup | None:
    """The ICS triangle with each dimension's rating on its side, then the written notes."""
    if instrument is None or instrument.id != INSTRUMENT_ID:
        return None
    answers: dict[str, Any] = dict(getattr(response, "answers", None) or {})
    return views.triangle(answers, instrument.definition, lang, views.remarks(response))
