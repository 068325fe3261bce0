"""Step navigation as a pure function: which step follows a save, where a draft resumes.

The test instrument has single-question steps, a step with several questions,
a follow-up question that appears on a yes, and a repeatable group.
"""

from __future__ import annotations

import pytest

from formengine.api import load_definition
from formengine.stepper import next_step, resume_step, visible_pages
from tests.browser.kitchen import DEFINITION

STEPS = ["p_mood", "p_worry", "p_facts", "p_helpers", "p_stars"]  # p_worry_often only after a yes


@pytest.fixture(scope="module")
def kitchen():
    return load_definition(DEFINITION)


def go(kitchen, answers, page, button, shown_before=None, declined=(), declined_item=None):
    if shown_before is None:
        page_items = next(p for p in kitchen.pages if p["id"] == page)["items"]
        shown_before = [i for i in page_items if kitchen.is_shown(kitchen.items_by_id[i], answers)]
    return next_step(kitchen, answers, list(declined), page_id=page, go=button,
                     shown_before=shown_before, declined_item=declined_item)


def test_a_step_whose_questions_are_all_hidden_is_skipped(kitchen):
    assert [p["id"] for p in visible_pages(kitchen, {})] == STEPS
    assert "p_worry_often" in [p["id"] for p in visible_pages(kitchen, {"worry": True})]


@pytest.mark.parametrize(("page", "button", "expected"), [
    ("p_mood", "next", "p_worry"),
    ("p_worry", "next", "p_facts"),      # no yes to worry: the follow-up step is skipped
    ("p_worry", "back", "p_mood"),
    ("p_mood", "back", "p_mood"),        # the first step has nothing before it
    ("p_stars", "next", None),           # after the last step: the review screen
    ("p_facts", "review", None),
    ("p_facts", "stay", "p_facts"),
    ("p_helpers", "add:helpers", "p_helpers"),
    ("p_helpers", "remove:helpers:0", "p_helpers"),
])
def test_each_button_leads_to_its_step(kitchen, page, button, expected):
    assert go(kitchen, {"mood": 1, "worry": False}, page, button) == expected


def test_a_yes_opens_the_follow_up_step_next(kitchen):
    assert go(kitchen, {"worry": True}, "p_worry", "next") == "p_worry_often"


def test_next_stays_when_a_follow_up_question_appeared_on_the_same_step(kitchen):
    # "short_sleep" appears on the facts step when fewer than 6 hours are given.
    shown_before = ["note", "hours", "seen_on"]
    assert go(kitchen, {"hours": 4}, "p_facts", "next", shown_before) == "p_facts"
    assert go(kitchen, {"hours": 4, "short_sleep": "baby"}, "p_facts", "next", shown_before) == "p_helpers"
    assert go(kitchen, {"hours": 8}, "p_facts", "next", shown_before) == "p_helpers"


def test_declining_one_question_of_several_keeps_the_step_until_the_others_are_answered(kitchen):
    assert go(kitchen, {}, "p_facts", "next", declined=["note"], declined_item="note") == "p_facts"
    answers = {"hours": 8, "seen_on": "2026-01-01"}
    assert go(kitchen, answers, "p_facts", "next", declined=["note"], declined_item="note") == "p_helpers"


def test_a_step_that_went_away_resumes_at_the_first_open_question(kitchen):
    answers = {"mood": 1, "worry": False, "worry_often": 2}
    assert go(kitchen, answers, "p_worry_often", "next", ["worry_often"]) == "p_facts"


def test_resume_at_the_first_question_without_an_answer_or_a_decline(kitchen):
    assert resume_step(kitchen, {}, []) == "p_mood"
    assert resume_step(kitchen, {}, ["mood"]) == "p_worry"
    assert resume_step(kitchen, {"mood": 1, "worry": True}, []) == "p_worry_often"
    everything = {"mood": 1, "worry": False, "note": "x", "hours": 8, "seen_on": "2026-01-01",
                  "helpers": [{"helper_name": "Mormor"}], "stars": 2}
    assert resume_step(kitchen, everything, []) is None
    assert resume_step(kitchen, {**everything, "helpers": []}, []) == "p_helpers"  # no entries: open
    # An entry added and left untouched holds no answer: the step is still open.
    assert resume_step(kitchen, {**everything, "helpers": [{}]}, []) == "p_helpers"
