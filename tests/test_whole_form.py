"""The whole-form page keeps the stepper's submit rules: required questions, declines, hidden answers.

And it is practice like the stepper's practice fill: only for instruments the municipality has enabled.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from formengine.db import get_db
from formengine.models import AuditEvent, InstrumentSetting, Municipality, Response, Score
from tests.browser.kitchen import PLUGINS
from tests.conftest import csrf_token, load_demo_into, login

WHO5 = ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5"]
KITCHEN_COMPLETE = {"mood": "1", "worry": "true", "worry_often": "2", "note": "kort", "hours": "8",
                    "seen_on": "2026-01-05", "stars": "2"}


@pytest.fixture
def app(make_app):
    app = make_app(EXTRA_PLUGINS=PLUGINS)
    load_demo_into(app)
    return app


@pytest.fixture
def team(app):
    client = app.test_client()
    assert login(client, "team-a").status_code == 302
    return client


def post(client, instrument_id, data):
    token = csrf_token(client.get(f"/instruments/{instrument_id}").get_data(as_text=True))
    return client.post(f"/instruments/{instrument_id}", data={"csrf_token": token, **data})


def count(app, model, *where):
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_unanswered_required_questions_are_refused_and_listed(app, team):
    refused = post(team, "who5", {"who5_1": "3", "who5_3": "2"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Svarene blev ikke sendt" in html
    for item in ("who5_2", "who5_4", "who5_5"):
        assert f'<a href="#q-{item}">' in html and f'id="q-{item}"' in html  # listed, linked to the question
    assert '<a href="#q-who5_1">' not in html
    assert html.count('<strong class="must-answer">skal besvares</strong>') == 3
    assert 'checked id="who5_1-' in html and 'checked id="who5_3-' in html  # what was given stays
    assert count(app, Response) == 0 and count(app, Score) == 0
    token = csrf_token(html)
    team.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    english = post(team, "who5", {"who5_1": "3"}).get_data(as_text=True)
    assert "The answers were not submitted" in english and "must be answered" in english
    assert count(app, Response) == 0


def test_a_question_can_be_declined_on_the_page_where_the_form_allows_it(app, team):
    # A tick at "Don't want to answer" counts as an answer, and wins over a choice made before it.
    done = post(team, "who5", {"who5_1": "3", "who5_2": "4", "who5_3": "1", "who5_4": "2",
                               "decline": ["who5_4", "who5_5"]})
    assert done.status_code == 302
    with get_db(app).session() as session:
        response = session.scalars(select(Response)).one()
        assert response.answers == {"who5_1": 3, "who5_2": 4, "who5_3": 1}
        assert sorted(response.declined) == ["who5_4", "who5_5"]
        assert response.wave_id is None  # practice
    # Kitchen's "worry" does not allow declining: refused, nothing stored.
    refused = post(team, "kitchen", {**KITCHEN_COMPLETE, "decline": "worry"})
    assert refused.status_code == 400
    assert "kan ikke springes over" in refused.get_data(as_text=True)
    assert count(app, Response) == 1


def test_answers_to_hidden_questions_are_removed_and_audited(app, team):
    done = post(team, "kitchen", {**KITCHEN_COMPLETE, "worry": "false"})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    result = team.get(done.headers["Location"]).get_data(as_text=True)
    assert "Disse svar blev ikke gemt" in result and "Hvor tit bekymrer du dig?" in result  # said, by name
    with get_db(app).session() as session:
        response = session.scalars(select(Response)).one()
        assert "worry_often" not in response.answers and response.answers["worry"] is False
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "clear",
                                                        AuditEvent.entity_id == response.uuid))
        assert event.detail == {"items": ["worry_often"], "reason": "hidden_by_condition"}
    # A question that a display condition hides is not required either.
    missing_hidden = {k: v for k, v in KITCHEN_COMPLETE.items() if k != "worry_often"}
    assert post(team, "kitchen", {**missing_hidden, "worry": "false"}).status_code == 302
    refused = post(team, "kitchen", missing_hidden)  # worry = yes: its follow-up is required
    assert refused.status_code == 422 and '<a href="#q-worry_often">' in refused.get_data(as_text=True)
    assert count(app, Response) == 2


def test_only_enabled_instruments_and_the_refusal_says_why(app, team):
    with get_db(app).session() as session:
        a = session.scalar(select(Municipality).where(Municipality.name == "Demo Kommune A"))
        session.execute(delete(InstrumentSetting).where(InstrumentSetting.municipality_id == a.id,
                                                        InstrumentSetting.instrument_id == "pss"))
    listing = team.get("/instruments").get_data(as_text=True)
    assert 'href="/instruments/who5"' in listing and 'href="/instruments/pss"' not in listing
    assert "Ikke slået til i jeres kommune." in listing
    page = team.get("/instruments/pss")
    assert page.status_code == 403
    assert "Instrumentet er ikke slået til i jeres kommune" in page.get_data(as_text=True)
    token = csrf_token(listing)
    answers = {f"pss_{i}": "1" for i in range(1, 19)}
    refused = team.post("/instruments/pss", data={"csrf_token": token, **answers})
    assert refused.status_code == 403 and "ikke slået til" in refused.get_data(as_text=True)
    started = team.post("/fill/start/pss", data={"csrf_token": token})
    assert started.status_code == 403 and "ikke slået til" in started.get_data(as_text=True)
    assert count(app, Response) == 0
