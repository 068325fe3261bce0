"""The answer codec: what a form field, a CSV cell or a JSON value becomes, and what is refused.

One set of rules for every route (stepper, whole-form page, import, ``formengine
score``); these tests pin the rules down per question type. The definition is
the one the question-type tests use.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formengine.api import AnswerRefused, code_key, load_definition
from formengine.instruments import codec_for
from tests.test_question_types import BASE, T

MIXED = {
    **BASE,
    "id": "codec_demo",
    "scales": {**BASE["scales"],
               "mixed": {"options": [{"code": 1, "label": T("En", "One")},
                                     {"code": "1", "label": T("Tekst en", "Text one")},
                                     {"code": "b", "label": T("B", "B")}]}},
    "items": [*BASE["items"], {"id": "odd", "scale": "mixed", "label": T("Blandet", "Mixed")}],
}


@pytest.fixture(scope="module")
def codec():
    return codec_for(load_definition(MIXED))


def item(codec, item_id):
    return codec.definition.items_by_id[item_id]


def refusal(call, *args, **kwargs):
    with pytest.raises(AnswerRefused) as caught:
        call(*args, **kwargs)
    return caught.value.refusals


# -- typed values (form fields, CSV cells) ----------------------------------------------------

@pytest.mark.parametrize(("item_id", "typed", "stored"), [
    ("mood", "7", 7),
    ("mood", " 10 ", 10),
    ("odd", "1", 1),            # the stepper's radio value for the integer code 1
    ("odd", '"1"', "1"),        # ... and for the text code "1"
    ("odd", "b", "b"),          # a text code may be written plainly when no other code reads the same
    ("consent", "ja", True), ("consent", "Nej", False), ("consent", "YES", True), ("consent", "no", False),
    ("consent", "true", True), ("consent", "0", False),
    ("hours", "7,5", 7.5),      # Danish decimal comma
    ("hours", "7.5", 7.5),
    ("hours", "8", 8),          # a whole number stays an integer
    ("nights", "-0", 0),
    ("met_on", "2024-02-29", "2024-02-29"),
    ("note", "  hej  ", "hej"),
    ("story", "første linje\r\nanden", "første linje\nanden"),
    ("note", "", None), ("hours", "  ", None),   # empty means unanswered
])
def test_typed_values_become_stored_answers(codec, item_id, typed, stored):
    value = codec.parse_text(item(codec, item_id), typed)
    assert value == stored and type(value) is type(stored)


@pytest.mark.parametrize(("item_id", "typed", "reason"), [
    ("mood", "1.0", "not_a_code"), ("mood", "1e0", "not_a_code"), ("mood", "11", "not_a_code"),
    ("mood", "²", "not_a_code"), ("mood", "null", "not_a_code"), ("mood", "[]", "not_a_code"),
    ("mood", "[[[[1]]]]", "not_a_code"), ("mood", "true", "not_a_code"),
    ("consent", "maybe", "not_yes_no"), ("consent", "2", "not_yes_no"),
    ("nights", "3,0", "not_whole"), ("nights", "8", "too_large"), ("nights", "-1", "too_small"),
    ("nights", "①", "not_a_number"), ("nights", "١", "not_a_number"), ("nights", "9" * 5000, "not_a_number"),
    ("hours", "1e3", "not_a_number"), ("hours", "nan", "not_a_number"), ("hours", "inf", "not_a_number"),
    ("hours", "1.000,5", "not_a_number"),
    ("met_on", "2026-02-31", "not_a_date"), ("met_on", "31-01-2026", "not_a_date"),
    ("met_on", "２０２６-01-01", "not_a_date"),
    ("note", "x" * 21, "too_long"), ("note", "a\x00b", "control_character"),
    ("note", "a\x0bb", "control_character"), ("note", "to\nlinjer", "line_break"),
    ("story", "\ud800", "control_character"),
])
def test_typed_values_that_are_refused_name_the_item_and_the_reason(codec, item_id, typed, reason):
    [problem] = refusal(codec.parse_text, item(codec, item_id), typed)
    assert (problem.item, problem.reason) == (item_id, reason)
    assert item_id in problem.message("da") and item_id in problem.message("en")


def test_a_message_names_the_question_by_its_label_in_danish_or_english(codec):
    [problem] = refusal(codec.parse_text, item(codec, "note"), "a\x0bb")
    assert problem.message("da", "Note") == "Note: teksten indeholder et tegn, der ikke er tilladt (U+000B)"
    assert problem.message("en", "Note") == "Note: the text contains a character that is not allowed (U+000B)"
    assert problem.to_dict()["message"]["da"].startswith("note:")


# -- JSON (import, score, API) ---------------------------------------------------------------

@pytest.mark.parametrize(("answers", "reason"), [
    ({"mood": 1.0}, "not_a_code"), ({"mood": True}, "not_a_code"), ({"mood": "1"}, "not_a_code"),
    ({"mood": None}, "null"), ({"mood": [1]}, "not_a_code"), ({"mood": 10**40}, "not_a_code"),
    ({"nights": 2.0}, "not_whole"), ({"nights": True}, "not_a_number"),
    ({"hours": float("nan")}, "not_a_number"),
    ({"hours": 10**30}, "too_large"), ({"consent": 1}, "not_yes_no"), ({"consent": "ja"}, "not_yes_no"),
    ({"note": ["x"]}, "not_text"), ({"note": "\x1b[31m"}, "control_character"),
    ({"goals": {"goal": "x"}}, "not_entries"), ({"goals": [{"goal": "a"}] * 4}, "too_many_entries"),
    ({"goals": []}, "too_few_entries"), ({"goals": [["x"]]}, "not_entries"),
    ({"goals": [{"goal": {"deeper": "x"}}]}, "not_text"), ({"goals": [{"colour": "red"}]}, "unknown_item"),
    ({"not_an_item": 1}, "unknown_item"),
])
def test_json_answers_are_taken_exactly_as_the_definition_has_them(codec, answers, reason):
    assert reason in [p.reason for p in refusal(codec.read_json, answers, complete=True)]


def test_json_answers_of_every_type_are_kept_as_given(codec):
    answers = {"mood": 0, "odd": "1", "note": "æøå", "story": "a\nb\tc", "nights": 7, "hours": 7.5,
               "consent": False, "met_on": "2024-02-29",
               "goals": [{"goal": "sove", "scaling": 3, "scaled_on": "2026-01-31", "agreed": True}, {}]}
    assert codec.read_json(answers, complete=True) == answers


def test_a_draft_may_hold_fewer_entries_than_a_finished_answer_set(codec):
    assert codec.read_json({"goals": []}) == {"goals": []}
    assert refusal(codec.read_json, {"goals": []}, complete=True)[0].reason == "too_few_entries"


def test_something_else_than_an_object_is_refused(codec):
    assert refusal(codec.read_json, [1, 2])[0].reason == "not_an_object"


# -- form posts ----------------------------------------------------------------------------

def test_a_form_post_reads_the_items_asked_for_with_group_entries(codec):
    form = {"mood": "3", "goals__count": "2", "goals__0__goal": "sove", "goals__0__scaling": "4",
            "goals__1__agreed": "ja", "csrf_token": "t"}
    assert codec.read_form(form, ["mood", "goals"], ignore=["csrf_token"]) == {
        "mood": 3, "goals": [{"goal": "sove", "scaling": 4}, {"agreed": True}]}


@pytest.mark.parametrize(("form", "reason"), [
    ({"ghost": "1"}, "unknown_item"),
    ({"note": "x"}, "not_on_step"),                       # an item of the form, but not of this step
    ({"goals__count": "-1"}, "bad_count"), ({"goals__count": "4"}, "bad_count"),
    ({"goals__count": "²"}, "bad_count"), ({"goals__count": "9" * 5000}, "bad_count"),
    ({"goals__count": "1", "goals__3__goal": "x"}, "not_on_step"),  # an entry beyond the count
    ({"goals__count": "1", "goals__0__scaling": "1.0"}, "not_a_code"),
])
def test_a_form_post_is_refused_whole_when_one_field_is_wrong(codec, form, reason):
    problems = refusal(codec.read_form, {"mood": "3", **form}, ["mood", "goals"])
    assert reason in [p.reason for p in problems]


@pytest.mark.parametrize(("go", "stored", "expected"), [
    ("add:goals", [{"goal": "a"}], [{"goal": "a"}, {}]),
    ("remove:goals:0", [{"goal": "a"}, {"goal": "b"}], [{"goal": "b"}]),
    ("remove:goals:1", [{"goal": "a"}, {"goal": "b"}], [{"goal": "a"}]),
])
def test_group_operations_add_and_remove_one_entry(codec, go, stored, expected):
    assert codec.group_edit({}, go, ["goals"], {"goals": stored}) == {"goals": expected}


@pytest.mark.parametrize("go", [
    "remove:goals:2", "remove:goals:²", "remove:goals:①", "remove:goals:" + "9" * 5000, "remove:goals:-1",
    "remove:goals", "add:goals:x", "add:mood", "add:ghost", "add:note", "explode:goals", "add:goals",
])
def test_group_operations_out_of_range_or_malformed_are_refused(codec, go):
    stored = {"goals": [{"goal": "a"}, {"goal": "b"}, {"goal": "c"}] if go == "add:goals" else
              [{"goal": "a"}, {"goal": "b"}]}
    refusal(codec.group_edit, {}, go, ["goals", "mood"], stored)


# -- round trip ----------------------------------------------------------------------------

def test_code_keys_keep_integer_and_text_codes_apart():
    assert code_key(1) == "1" and code_key("1") == '"1"'


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["mood", "odd", "consent", "nights", "hours", "met_on", "note"]), st.data())
def test_every_stored_value_reads_back_from_its_text(codec, item_id, data):
    it = codec.definition.items_by_id[item_id]
    strategies = {
        "mood": st.integers(0, 10), "odd": st.sampled_from([1, "1", "b"]), "consent": st.booleans(),
        "nights": st.integers(0, 7), "hours": st.floats(0, 24, allow_nan=False).map(lambda f: round(f, 3)),
        "met_on": st.dates().map(lambda d: d.isoformat()),
        "note": st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20)
        .map(str.strip).filter(bool),
    }
    value = data.draw(strategies[item_id])
    back = codec.parse_text(it, codec.to_text(it, value))
    assert back == value and (type(back) is type(value) or item_id == "hours")


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=30))
def test_no_typed_text_breaks_the_codec(codec, typed):
    for it in codec.definition.items:
        try:
            codec.parse_text(it, typed)
        except AnswerRefused as exc:
            assert exc.refusals and all(p.message("da") for p in exc.refusals)
