"""Draft logic without the web: versioned saves, declines, resume point, submit exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formengine import drafts
from formengine.db import get_db
from formengine.models import Response, Score
from formengine.registry import get_registry
from formengine.responses import start_draft
from tests.browser.kitchen import PLUGINS


@pytest.fixture
def kitchen_app(make_app):
    return make_app(EXTRA_PLUGINS=PLUGINS)


@pytest.fixture
def dbs(kitchen_app):
    with get_db(kitchen_app).session() as session:
        yield session


@pytest.fixture
def kitchen(kitchen_app):
    return get_registry(kitchen_app).get("kitchen")


def new_draft(dbs, instrument):
    response = start_draft(dbs, instrument, municipality_id=None, entered_by=None,
                           wording={"kind": "project_labels"})
    dbs.commit()
    return response


def stored(dbs, response):
    dbs.expire_all()
    return dbs.get(Response, response.id)


REQUIRED = {"mood": 1, "worry": False, "hours": 8, "seen_on": "2026-01-05", "stars": 2}


def test_each_save_bumps_the_version_and_is_stored(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    assert drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 2}, 1) == 2
    assert drafts.save_answers(dbs, draft, kitchen.definition, {"worry": False}, 2) == 3
    dbs.commit()
    again = stored(dbs, draft)
    assert again.answers == {"mood": 2, "worry": False} and again.version == 3


def test_a_keyed_save_is_remembered_so_its_resend_is_recognised(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    assert not drafts.already_applied(draft, "tablet-0001")
    drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 2}, 1, save_key="tablet-0001")
    dbs.commit()
    again = stored(dbs, draft)
    assert drafts.already_applied(again, "tablet-0001")
    assert not drafts.already_applied(again, "tablet-0002") and not drafts.already_applied(again, None)
    drafts.decline_item(dbs, again, kitchen.definition, "mood", 2, save_key="tablet-0002")
    dbs.commit()
    assert drafts.already_applied(stored(dbs, draft), "tablet-0002")


def test_a_stale_version_is_refused_and_changes_nothing(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 2}, 1)
    dbs.commit()
    with pytest.raises(drafts.DraftConflict) as info:
        drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 0}, 1)
    assert (info.value.expected, info.value.current) == (1, 2)
    assert stored(dbs, draft).answers == {"mood": 2}


def test_a_write_that_loses_the_race_in_the_database_is_a_conflict(dbs, kitchen, kitchen_app):
    draft = new_draft(dbs, kitchen)
    # Another device writes between our read and our write.
    with get_db(kitchen_app).session() as other:
        other_copy = other.get(Response, draft.id)
        drafts.save_answers(other, other_copy, kitchen.definition, {"mood": 1}, 1)
    with pytest.raises(drafts.DraftConflict):
        drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 2}, 1)
    assert stored(dbs, draft).answers == {"mood": 1}


@pytest.mark.parametrize("changes", [
    {"mood": 7}, {"mood": "2"}, {"worry": "yes"}, {"hours": 25}, {"hours": 2.5}, {"note": "x" * 21},
    {"seen_on": "2024-13-45"}, {"helpers": [{"helper_visits": -1}]}, {"nonsense": 1},
])
def test_a_value_that_does_not_fit_is_refused_and_changes_nothing(dbs, kitchen, changes):
    draft = new_draft(dbs, kitchen)
    drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 1}, 1)
    dbs.commit()
    with pytest.raises(drafts.DraftAnswerError) as info:
        drafts.save_answers(dbs, draft, kitchen.definition, changes, 2)
    assert info.value.problems
    again = stored(dbs, draft)
    assert again.answers == {"mood": 1} and again.version == 2


def test_declining_is_stored_apart_from_unanswered_and_answering_undoes_it(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 1}, 1)
    drafts.decline_item(dbs, draft, kitchen.definition, "mood", 2)
    dbs.commit()
    again = stored(dbs, draft)
    assert again.declined == ["mood"] and "mood" not in again.answers
    assert drafts.is_answered(again, "mood")
    drafts.save_answers(dbs, again, kitchen.definition, {"mood": 0}, 3)
    assert again.declined == [] and again.answers == {"mood": 0}


def test_an_item_without_decline_cannot_be_declined(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    with pytest.raises(drafts.DraftAnswerError):
        drafts.decline_item(dbs, draft, kitchen.definition, "hours", 1)
    assert stored(dbs, draft).declined == []


def test_first_unanswered_follows_display_conditions(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    definition = kitchen.definition
    assert drafts.first_unanswered(definition, draft) == "mood"
    drafts.save_answers(dbs, draft, definition, {"mood": 1, "worry": False}, 1)
    assert drafts.first_unanswered(definition, draft) == "note"  # worry_often is not shown
    drafts.save_answers(dbs, draft, definition, {"worry": True}, 2)
    assert drafts.first_unanswered(definition, draft) == "worry_often"


def test_submit_is_idempotent_and_scores_once(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    drafts.save_answers(dbs, draft, kitchen.definition, REQUIRED, 1)
    first = drafts.submit_draft(dbs, draft, kitchen, 2)
    dbs.commit()
    second = drafts.submit_draft(dbs, stored(dbs, draft), kitchen, 2)
    dbs.commit()
    assert not first.already and second.already
    again = stored(dbs, draft)
    assert again.status == "submitted" and again.submitted_at is not None
    assert dbs.scalar(select(func.count()).select_from(Score)) == 1
    assert again.current_score.scores == {"answered": 5}
    with pytest.raises(drafts.DraftClosed):
        drafts.save_answers(dbs, again, kitchen.definition, {"mood": 2}, again.version)


def test_submit_removes_answers_whose_condition_no_longer_holds_and_says_which(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    drafts.save_answers(dbs, draft, kitchen.definition, {**REQUIRED, "worry": True, "worry_often": 2}, 1)
    drafts.save_answers(dbs, draft, kitchen.definition, {"worry": False}, 2)
    # Until submit the answer is kept (the respondent may switch back), and reported.
    assert drafts.hidden_answered(kitchen.definition, draft.answers) == ["worry_often"]
    outcome = drafts.submit_draft(dbs, draft, kitchen, 3)
    dbs.commit()
    assert outcome.cleared == ["worry_often"]
    assert stored(dbs, draft).answers == REQUIRED


def test_submit_with_a_stale_version_is_refused(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    drafts.save_answers(dbs, draft, kitchen.definition, {"mood": 1}, 1)
    dbs.commit()
    with pytest.raises(drafts.DraftConflict):
        drafts.submit_draft(dbs, draft, kitchen, 1)
    assert stored(dbs, draft).status == "draft"


def test_submit_refuses_while_a_required_question_has_no_answer_and_no_decline(dbs, kitchen):
    draft = new_draft(dbs, kitchen)
    partial = {"worry": True, "hours": 8, "seen_on": "2026-01-05"}
    drafts.save_answers(dbs, draft, kitchen.definition, partial, 1)
    with pytest.raises(drafts.DraftIncomplete) as refused:
        drafts.submit_draft(dbs, draft, kitchen, 2)
    # In page order; the unanswered optional note is not asked for, the shown follow-up is.
    assert refused.value.missing == ["mood", "worry_often", "stars"]
    assert stored(dbs, draft).status == "draft"
    drafts.decline_item(dbs, draft, kitchen.definition, "mood", 2)  # declining on purpose counts
    drafts.save_answers(dbs, draft, kitchen.definition, {"worry_often": 1, "stars": 2}, 3)
    assert not drafts.submit_draft(dbs, draft, kitchen, 4).already
    assert stored(dbs, draft).status == "submitted"


def test_submit_refuses_while_a_conditionally_required_question_is_unanswered(dbs, kitchen_app):
    from formengine.api import Instrument, load_definition
    from tests.browser.kitchen import DEFINITION

    data = dict(DEFINITION, items=[dict(i) for i in DEFINITION["items"]])
    data["items"][3]["required_if"] = {"item": "worry", "op": "eq", "value": True}  # the note
    instrument = Instrument(definition=load_definition(data), score=None)
    draft = new_draft(dbs, instrument)
    answers = {**REQUIRED, "worry": True, "worry_often": 1}
    drafts.save_answers(dbs, draft, instrument.definition, answers, 1)
    with pytest.raises(drafts.DraftIncomplete) as refused:  # note is required once worry is yes
        drafts.submit_draft(dbs, draft, instrument, 2)
    assert refused.value.missing == ["note"]
    assert stored(dbs, draft).status == "draft"
