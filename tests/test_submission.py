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
