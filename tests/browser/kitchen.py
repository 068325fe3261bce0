"""A test instrument with every item type of the meta-schema, a display condition and a widget.

Used by the fast stepper tests and the browser tests; registered through
``EXTRA_PLUGINS`` so it never ships with the application.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from formengine.api import Instrument, ScoreResult, hookimpl, load_definition

DEFINITION = {
    "id": "kitchen",
    "version": "1.0.0",
    "title": {"da": "Alle spørgsmålstyper", "en": "Every question type"},
    "respondent": "self",
    "licence": {"holder": "formengine tests", "terms": {"da": "Kun til test", "en": "Test only"},
                "official_wording_licensed": True},
    "allow_decline": False,
    "scales": {
        "often3": {"options": [
            {"code": 0, "label": {"da": "Aldrig", "en": "Never"}},
            {"code": 1, "label": {"da": "Nogle gange", "en": "Sometimes"}},
            {"code": 2, "label": {"da": "Ofte", "en": "Often"}},
        ]},
    },
    "items": [
        {"id": "mood", "scale": "often3", "allow_decline": True,
         "label": {"da": "Jeg er glad", "en": "I am happy"}},
        {"id": "worry", "type": "boolean", "label": {"da": "Bekymrer du dig?", "en": "Do you worry?"}},
        {"id": "worry_often", "scale": "often3",
         "show_if": {"item": "worry", "op": "eq", "value": True},
         "label": {"da": "Hvor tit bekymrer du dig?", "en": "How often do you worry?"}},
        {"id": "note", "type": "text", "max_length": 20, "required": False, "allow_decline": True,
         "label": {"da": "En kort bemærkning", "en": "A short remark"}},
        {"id": "hours", "type": "number", "integer": True, "min": 0, "max": 24,
         "label": {"da": "Timers søvn", "en": "Hours of sleep"}},
        {"id": "short_sleep", "type": "text", "max_length": 50, "required": False,
         "show_if": {"item": "hours", "op": "lt", "value": 6},
         "label": {"da": "Hvad holder dig vågen?", "en": "What keeps you awake?"}},
        {"id": "seen_on", "type": "date", "label": {"da": "Dato for samtalen", "en": "Date of the talk"}},
        {"id": "helpers", "type": "group", "max_repeat": 3, "required": False,
         "label": {"da": "Hvem hjælper dig?", "en": "Who helps you?"},
         "items": [
             {"id": "helper_name", "type": "text", "max_length": 30, "label": {"da": "Navn", "en": "Name"}},
             {"id": "helper_visits", "type": "number", "integer": True, "min": 0, "max": 99,
              "label": {"da": "Besøg om måneden", "en": "Visits a month"}},
         ]},
        {"id": "stars", "scale": "often3", "widget": "kitchen.stars",
         "label": {"da": "Giv stjerner", "en": "Give stars"}},
    ],
    "pages": [
        {"id": "p_mood", "items": ["mood"]},
        {"id": "p_worry", "items": ["worry"]},
        {"id": "p_worry_often", "items": ["worry_often"]},
        {"id": "p_facts", "title": {"da": "Fakta", "en": "Facts"},
         "items": ["note", "hours", "short_sleep", "seen_on"]},
        {"id": "p_helpers", "items": ["helpers"]},
        {"id": "p_stars", "items": ["stars"]},
    ],
    "scores": [{"name": "answered", "label": {"da": "Besvarede", "en": "Answered"},
                "bands": {"some": {"da": "Nogle", "en": "Some"}, "all": {"da": "Alle", "en": "All"}}}],
}

SCORED = ("mood", "worry", "hours", "seen_on", "stars")


def score(answers, context):
    answered = sum(1 for key in SCORED if key in answers)
    result = ScoreResult(valid=answered == len(SCORED), scores={"answered": answered},
                         bands={"answered": "all" if answered == len(SCORED) else "some"})
    if answered < len(SCORED):
        result.flag("missing_items", "Some questions were not answered, so the count is incomplete.")
    return result


class KitchenPlugin:
    """The test plugin: the instrument above and a star widget for the ``stars`` item."""

    @hookimpl
    def formengine_instruments(self):
        return [Instrument(definition=load_definition(DEFINITION), score=score, scoring_version="1")]

    @hookimpl
    def formengine_render_widget(self, item, definition, value, lang, texts):
        if item.get("widget") != "kitchen.stars":
            return None
        parts = ['<div class="options stars">']
        for option in definition.scale_options(item):
            checked = " checked" if value == option["code"] else ""
            label = escape(texts.option(item, option, lang))
            stars = "★" * (option["code"] + 1)
            parts.append(f'<label class="option"><input type="radio" name="{item["id"]}" '
                         f'value="{option["code"]}"{checked}> <span>{stars} {label}</span></label>')
        parts.append("</div>")
        return Markup("".join(parts))


PLUGINS = [(KitchenPlugin(), "kitchen_test_plugin")]
