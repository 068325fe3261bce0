"""The submit rules every route shares (stepper submit, whole-form page, import), as pure functions."""

from __future__ import annotations

import pytest

from formengine.api import load_definition
from formengine.instruments import AnswerRefused
from formengine.submission import check_submission
from tests.browser.kitchen import DEFINITION

COMPLETE = {"mood": 1, "worry": True, "worry_often": 2, "hours": 8, "seen_on": "2026-01-05", "stars": 2}


@pytest.fixture(scope="module")
def kitchen():
    return load_definition(DEFINITION)


def test_a_complete_answer_set_passes_unchanged(kitchen):
    checked = check_submission(kitchen, COMPLETE)
    assert checked.complete and checked.answers == COMPLETE and checked.cleared == []


def test_required_questions_must_be_answered_or_declined_in_page_order(kitchen):
    checked = check_submission(kitchen, {"worry": True, "hours": 8})
    assert checked.missing == ["mood", "worry_often", "seen_on", "stars"]
    assert [p.message("da") for p in checked.missing_problems()][0].startswith("mood: skal besvares")
    declined = check_submission(kitchen, {k: v for k, v in COMPLETE.items() if k != "mood"}, ["mood"])
    assert declined.complete and declined.declined == ["mood"]


def test_hidden_answers_are_cleared_and_hidden_questions_are_not_required(kitchen):
    checked = check_submission(kitchen, {**COMPLETE, "worry": False})
    assert checked.complete and checked.cleared == ["worry_often"]
    assert "worry_often" not in checked.answers
    without = {k: v for k, v in COMPLETE.items() if k != "worry_often"}
    assert check_submission(kitchen, {**without, "worry": False}).complete
    assert check_submission(kitchen, without).missing == ["worry_often"]


def test_declines_only_where_the_form_allows_them(kitchen):
    with pytest.raises(AnswerRefused) as refused:
        check_submission(kitchen, COMPLETE, ["worry", "nope"])
    assert [(p.item, p.reason) for p in refused.value.refusals] == [("worry", "cannot_decline"),
                                                                    ("nope", "unknown_item")]


def test_a_group_entry_without_answers_is_not_kept_and_does_not_count_towards_min_repeat():
    loft = load_definition(LOFT)
    untouched = check_submission(loft, {"goals": [{}]})
    assert untouched.missing == ["goals"]  # one goal is the minimum; an empty entry is no goal
    one = check_submission(loft, {"goals": [{}, {"goal": "Faste sengetider"}, {"scaling": None}]})
    assert "goals" not in one.missing
    assert one.answers["goals"] == [{"goal": "Faste sengetider"}]


LOFT = {
    "id": "groups_demo", "version": "1.0.0", "title": {"da": "Mål", "en": "Goals"}, "respondent": "self",
    "licence": {"holder": "formengine tests", "terms": {"da": "Kun til test", "en": "Test only"},
                "official_wording_licensed": True},
    "scales": {},
    "items": [{"id": "goals", "type": "group", "min_repeat": 1, "max_repeat": 3,
               "label": {"da": "Mål", "en": "Goals"},
               "items": [{"id": "goal", "type": "text", "max_length": 200,
                          "label": {"da": "Mål", "en": "Goal"}},
                         {"id": "scaling", "type": "number", "min": 0, "max": 10,
                          "label": {"da": "Skala", "en": "Scale"}}]}],
}
