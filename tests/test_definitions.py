"""Definitions are validated against the meta-schema; answers against the derived schema."""

import copy

import pytest

from formengine.instruments import AnswerError, DefinitionError, load_definition
from formengine.instruments.conditions import evaluate

BASE = {
    "id": "demo_form",
    "version": "1.0",
    "title": {"da": "Demo", "en": "Demo"},
    "respondent": "self",
    "licence": {"holder": "The project", "terms": {"da": "Fri", "en": "Free"}},
    "scales": {"yn": {"options": [{"code": 0, "label": {"da": "Nej", "en": "No"}},
                                  {"code": 1, "label": {"da": "Ja", "en": "Yes"}}]}},
    "items": [
        {"id": "any_trouble", "scale": "yn", "label": {"da": "Problemer?", "en": "Trouble?"}},
        {"id": "how_much", "type": "number", "integer": True, "min": 0, "max": 10,
         "label": {"da": "Hvor meget", "en": "How much"},
         "show_if": {"item": "any_trouble", "op": "eq", "value": 1}},
        {"id": "why", "type": "text", "max_length": 20, "label": {"da": "Hvorfor", "en": "Why"},
         "required": False, "required_if": {"item": "how_much", "op": "gte", "value": 5}},
        {"id": "when", "type": "date", "label": {"da": "Hvornår", "en": "When"}, "required": False},
        {"id": "ok", "type": "boolean", "label": {"da": "OK", "en": "OK"}, "required": False},
    ],
}


def broken(mutate):
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(DefinitionError) as info:
        load_definition(data)
    return info.value


def test_a_valid_definition_loads():
    definition = load_definition(BASE)
    assert definition.id == "demo_form"
    assert definition.item_ids == ["any_trouble", "how_much", "why", "when", "ok"]


@pytest.mark.parametrize("mutate, pointer, words", [
    (lambda d: d.update(id="Bad-Id"), "/id", "does not match"),
    (lambda d: d["items"][0]["label"].pop("en"), "/items/0/label", "'en' is a required property"),
    (lambda d: d["items"][0].update(scale="nope"), "/items/0/scale", "unknown scale"),
    (lambda d: d["items"][1].update(id="any_trouble"), "/items/1/id", "used twice"),
    (lambda d: d["items"][0].update(id="x" * 27), "/items/0/id", "does not match"),
    (lambda d: d["items"][2].update(max_length=None) or d["items"][2].pop("max_length"),
     "/items/2", "'max_length' is a required property"),
    (lambda d: d["items"][1]["show_if"].update(item="ghost"), "/items/1/show_if", "unknown item 'ghost'"),
    (lambda d: d.update(pages=[{"id": "p1", "items": ["any_trouble", "ghost"]}]),
     "/pages/0/items/1", "unknown item"),
    (lambda d: d.update(pages=[{"id": "p1", "items": ["any_trouble"]}]), "/pages", "items on no page"),
    (lambda d: d["scales"]["yn"]["options"][1].update(code=0), "/scales/yn/options", "repeats a code"),
    (lambda d: d.pop("licence"), "/", "'licence' is a required property"),
])
def test_invalid_definitions_name_the_json_pointer(mutate, pointer, words):
    error = broken(mutate)
    assert error.pointer == pointer
    assert words in str(error)


def test_answer_schema_rejects_unknown_items_and_codes():
    definition = load_definition(BASE)
    definition.validate_answers({"any_trouble": 1, "how_much": 3, "when": "2026-01-31", "ok": False})
    with pytest.raises(AnswerError, match="unknown item id"):
        definition.validate_answers({"nope": 1})
    with pytest.raises(AnswerError, match="not a code of this item"):
        definition.validate_answers({"any_trouble": 2})
    with pytest.raises(AnswerError, match="out of range"):
        definition.validate_answers({"how_much": 11})
    with pytest.raises(AnswerError, match="wrong type"):
        definition.validate_answers({"how_much": 2.5})
    with pytest.raises(AnswerError, match="longer than 20"):
        definition.validate_answers({"why": "x" * 21})
    with pytest.raises(AnswerError, match="not a valid date"):
        definition.validate_answers({"when": "2026-02-30"})
    with pytest.raises(AnswerError):
        definition.validate_answers(["not", "an", "object"])


def test_required_if_makes_an_item_required_when_its_condition_holds():
    definition = load_definition(BASE)
    definition.validate_answers({"any_trouble": 1, "how_much": 4})
    with pytest.raises(AnswerError, match="why"):
        definition.validate_answers({"any_trouble": 1, "how_much": 5})
    definition.validate_answers({"any_trouble": 1, "how_much": 5, "why": "because"})


def test_display_conditions():
    definition = load_definition(BASE)
    item = definition.items_by_id["how_much"]
    assert not definition.is_shown(item, {})
    assert not definition.is_shown(item, {"any_trouble": 0})
    assert definition.is_shown(item, {"any_trouble": 1})
    both = {"all": [{"item": "a", "op": "gt", "value": 0}, {"not": {"item": "b", "op": "answered"}}]}
    assert evaluate(both, {"a": 2})
    assert not evaluate({"any": [{"item": "a", "op": "in", "value": [1, 2]}]}, {"a": 3})
    assert not evaluate({"item": "a", "op": "gt", "value": 0}, {"a": True})
