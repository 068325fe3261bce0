"""Question types a definition can use: choice, 0-10 scale, text, number, yes/no, date, repeatable group.

Each type is checked where it matters to a family's answers: what the derived
answer schema accepts and refuses (with a message naming the item), and what
the meta-schema refuses in a definition. Definitions without ``type`` keep
meaning "choice", so existing instruments load unchanged.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from formengine.api import AnswerError, DefinitionError, load_definition

ROOT = Path(__file__).resolve().parents[1]


def T(da: str, en: str) -> dict[str, str]:
    return {"da": da, "en": en}


BASE = {
    "id": "types_demo",
    "version": "1.0",
    "title": T("Spørgsmålstyper", "Question types"),
    "respondent": "professional",
    "licence": {"holder": "formengine project", "terms": T("Frit", "Free")},
    "scales": {
        "zero_ten": {"options": [{"code": n, "label": T(str(n), str(n))} for n in range(11)]},
        "yes_no_maybe": {"options": [{"code": "yes", "label": T("Ja", "Yes")},
                                     {"code": "no", "label": T("Nej", "No")}]},
    },
    "items": [
        {"id": "mood", "scale": "zero_ten", "label": T("Humør 0-10", "Mood 0-10")},
        {"id": "note", "type": "text", "max_length": 20, "label": T("Note", "Note")},
        {"id": "story", "type": "text", "max_length": 2000, "multiline": True, "label": T("Fortæl", "Tell")},
        {"id": "nights", "type": "number", "integer": True, "min": 0, "max": 7,
         "label": T("Nætter", "Nights")},
        {"id": "hours", "type": "number", "min": 0, "max": 24, "label": T("Timer", "Hours")},
        {"id": "consent", "type": "boolean", "label": T("Samtykke", "Consent")},
        {"id": "met_on", "type": "date", "label": T("Mødedato", "Date of meeting")},
        {"id": "goals", "type": "group", "min_repeat": 1, "max_repeat": 3, "label": T("Mål", "Goals"),
         "items": [
             {"id": "goal", "type": "text", "max_length": 100, "label": T("Mål", "Goal")},
             {"id": "scaling", "scale": "zero_ten", "label": T("Skalering", "Scaling")},
             {"id": "scaled_on", "type": "date", "label": T("Dato", "Date")},
             {"id": "agreed", "type": "boolean", "label": T("Aftalt", "Agreed")},
         ]},
    ],
}


@pytest.fixture(scope="module")
def definition():
    return load_definition(BASE)


def problems(definition, answers):
    with pytest.raises(AnswerError) as caught:
        definition.validate_answers(answers)
    return caught.value.problems


def test_a_complete_answer_set_of_every_type_is_accepted(definition):
    definition.validate_answers({
        "mood": 0, "note": "kort", "story": "Første linje\nanden linje", "nights": 7, "hours": 7.5,
        "consent": False, "met_on": "2026-02-28",
        "goals": [{"goal": "Sove", "scaling": 10, "scaled_on": "2026-02-28", "agreed": True},
                  {"goal": "Skole"}],
    })


@pytest.mark.parametrize("code", [0, 5, 10])
def test_the_0_10_scale_is_a_choice_with_codes_0_to_10(definition, code):
    definition.validate_answers({"mood": code})


@pytest.mark.parametrize("code", [-1, 11, 5.5, "5", True, None])
def test_the_0_10_scale_refuses_anything_else(definition, code):
    assert any(p.startswith("mood:") for p in problems(definition, {"mood": code}))


def test_free_text_is_length_limited_with_a_message_naming_the_item(definition):
    definition.validate_answers({"note": "x" * 20})
    assert problems(definition, {"note": "x" * 21}) == ["note: text longer than 20 characters"]


def test_free_text_keeps_markup_and_control_characters_as_plain_data(definition):
    # stored as typed; escaping is the renderer's job, never the family's problem
    typed = "<script>alert('x')</script> & =SUM(A1) \"quoted\""
    definition.validate_answers({"story": typed})
    assert json.loads(json.dumps({"story": typed}))["story"] == typed


@pytest.mark.parametrize("value", [5, ["a"], {"a": 1}, True])
def test_free_text_must_be_text(definition, value):
    assert problems(definition, {"note": value})[0].startswith("note:")


@pytest.mark.parametrize("answers, where", [
    ({"nights": 8}, "nights: 8 is out of range"),
    ({"nights": -1}, "nights: -1 is out of range"),
    ({"nights": 2.5}, "nights: 2.5 has the wrong type"),
    ({"nights": True}, "nights: true has the wrong type"),
    ({"hours": 24.5}, "hours: 24.5 is out of range"),
    ({"hours": "7"}, "hours: \"7\" has the wrong type"),
])
def test_numbers_keep_their_range_and_integer_rule(definition, answers, where):
    assert problems(definition, answers)[0].startswith(where)


def test_a_decimal_number_takes_fractions(definition):
    definition.validate_answers({"hours": 0.25})


@pytest.mark.parametrize("value", [0, 1, "yes", "true", None])
def test_yes_no_takes_only_true_or_false(definition, value):
    assert problems(definition, {"consent": value})[0].startswith("consent:")


@pytest.mark.parametrize("value",
                         ["2026-02-29", "2026-13-01", "01-03-2026", "2026-3-1", "20260301", 20260301])
def test_a_date_must_be_a_real_iso_date(definition, value):
    assert problems(definition, {"met_on": value})[0].startswith("met_on:")


def test_a_leap_day_is_a_date(definition):
    definition.validate_answers({"met_on": "2028-02-29"})


def test_a_group_holds_between_min_and_max_entries(definition):
    assert problems(definition, {"goals": []})[0].startswith("goals:")
    four = [{"goal": str(n)} for n in range(4)]
    assert problems(definition, {"goals": four})[0].startswith("goals:")


def test_every_sub_item_of_a_group_entry_is_validated_by_its_own_type(definition):
    found = problems(definition, {"goals": [
        {"goal": "ok", "scaling": 3, "scaled_on": "2026-01-31"},
        {"goal": "x" * 101, "scaling": 11, "scaled_on": "2026-02-31", "agreed": "yes"},
    ]})
    assert sorted(found) == sorted([
        "goals.1.goal: text longer than 100 characters",
        "goals.1.scaling: 11 is not a code of this item (allowed: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)",
        'goals.1.scaled_on: "2026-02-31" is not a valid date (YYYY-MM-DD)',
        'goals.1.agreed: "yes" has the wrong type (expected boolean)',
    ])


@pytest.mark.parametrize("bad", [{"colour": "red"}, "a goal", ["x"]])
def test_a_group_entry_is_an_object_of_its_sub_items_only(definition, bad):
    assert "goals.0" in problems(definition, {"goals": [bad]})[0]


# -- the meta-schema --------------------------------------------------------

def broken(change) -> dict:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def item(data, item_id):
    return next(i for i in data["items"] if i["id"] == item_id)


@pytest.mark.parametrize("change, pointer", [
    (lambda d: item(d, "note").pop("max_length"), "/items/1"),
    (lambda d: item(d, "note").update(max_length=0), "/items/1/max_length"),
    (lambda d: item(d, "goals").pop("items"), "/items/7"),
    (lambda d: item(d, "nights").update(items=[{"id": "x", "label": T("x", "y")}]), "/items/3"),
    (lambda d: item(d, "mood").pop("scale"), "/items/0"),
    (lambda d: item(d, "nights").update(min=8), "/items/3"),
    (lambda d: item(d, "goals").update(max_repeat=0), "/items/7/max_repeat"),
    (lambda d: item(d, "consent").update(type="slider"), "/items/5/type"),
    (lambda d: item(d, "goals")["items"][1].update(scale="nope"), "/items/7/items/1/scale"),
    (lambda d: item(d, "goals")["items"].append({"id": "mood", "type": "boolean", "label": T("a", "b")}),
     "/items/7/items/4/id"),
])
def test_the_meta_schema_refuses_a_malformed_question_with_its_pointer(change, pointer):
    with pytest.raises(DefinitionError) as caught:
        load_definition(broken(change))
    assert caught.value.pointer.startswith(pointer), caught.value


def test_a_widget_name_is_an_optional_item_property():
    data = broken(lambda d: item(d, "mood").update(widget="loft.scaling"))
    assert load_definition(data).items_by_id["mood"]["widget"] == "loft.scaling"
    with pytest.raises(DefinitionError, match="widget"):
        load_definition(broken(lambda d: item(d, "mood").update(widget="<b>")))


def test_definitions_without_a_type_still_mean_choice():
    who5 = load_definition(ROOT / "plugins" / "who5" / "definition.json")
    assert all("type" not in i for i in who5.items)
    who5.validate_answers({"who5_1": 5})
    with pytest.raises(AnswerError):
        who5.validate_answers({"who5_1": 6})


@pytest.mark.parametrize("path", sorted((ROOT / "plugins").glob("*/*.json")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_bundled_definition_still_loads(path):
    data = json.loads(path.read_text("utf-8"))
    if "items" in data and "id" in data:
        load_definition(path)
