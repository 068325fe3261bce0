"""Alert flags reach the team member on every page until acknowledged, and formengine_alert once per alert."""

from __future__ import annotations

import types

import pytest
from sqlalchemy import select

from formengine.alerts import notify
from formengine.api import hookimpl
from formengine.db import get_db
from formengine.models import Alert, AuditEvent, Response, User
from formengine.registry import get_registry
from formengine.responses import rescore, submit_new_response
from tests.conftest import csrf_token
from tests.test_cases import make_family

LOW_WHO5 = {"who5_1": 1, "who5_2": 1, "who5_3": 1, "who5_4": 1, "who5_5": 2}  # raw 6, percent 24
HEADING = "Advarsler at følge op (1)"


def recorder() -> types.ModuleType:
    """A municipality's own plugin that records what formengine_alert passes on."""
    module = types.ModuleType("alert_recorder")
    module.calls = []

    @hookimpl
    def formengine_alert(alert, instrument):
        module.calls.append((alert.code, alert.instrument_id, alert.response_uuid, alert.municipality,
                             instrument.id))

    module.formengine_alert = formengine_alert
    return module


@pytest.fixture
def recording():
    return recorder()


@pytest.fixture
def app(make_app, recording):
    return make_app(EXTRA_PLUGINS=[(recording, "alert_recorder")])


@pytest.fixture
def low_who5(demo, recording):
    """A young person's WHO-5 in the likely-depression band, stored and passed on like a web submit."""
    ids = make_family(demo, case_ref="ALERT-1")
    registry = get_registry(demo)
    with get_db(demo).session() as session:
        response = submit_new_response(
            session, registry.get("who5"), LOW_WHO5, municipality_id=ids["municipality"], entered_by=None,
            wording={"kind": "project_labels"}, person_id=ids["Stor"])
        session.commit()
        assert notify(session, registry, response) == 1
        ids["uuid"] = response.uuid
    return ids


def _page(client, url):
    page = client.get(url)
    assert page.status_code == 200, url
    return page.get_data(as_text=True)


def _pages(client, ids):
    return {
        "result": _page(client, f"/responses/{ids['uuid']}"),
        "family": _page(client, f"/families/{ids['family']}"),
        "due": _page(client, "/due"),
        "timeline": _page(client, f"/reports/persons/{ids['Stor']}"),
    }


def test_an_alert_shows_on_every_team_page_until_acknowledged_with_a_note(app, low_who5, login_as):
    client = login_as("team-a")
    for name, html in _pages(client, low_who5).items():
        assert HEADING in html, name
        # In the team member's language, not the scoring's English sentence.
        assert "Trivselsscoren ligger i det område, hvor WHO-5" in html, name
        assert "Percent score" not in html, name
        assert "Kvittér for advarslen" in html, name
    family_page = _page(client, f"/families/{low_who5['family']}")
    alert_id = _alert(app).id

    refused = client.post(f"/alerts/{alert_id}/acknowledge",
                          data={"csrf_token": csrf_token(family_page), "note": "   ",
                                "next": f"/families/{low_who5['family']}"})
    assert refused.status_code == 303
    assert "Advarslen blev ikke kvitteret" in _page(client, refused.headers["Location"])
    assert _alert(app).acknowledged_at is None

    done = client.post(f"/alerts/{alert_id}/acknowledge",
                       data={"csrf_token": csrf_token(family_page),
                             "note": "Talt med den unge; henvist til egen læge",
                             "next": f"/families/{low_who5['family']}"})
    assert done.status_code == 303
    for name, html in _pages(client, low_who5).items():
        assert "Advarsler at følge op" not in html, name
    alert = _alert(app)
    with get_db(app).session() as session:
        team_a = session.scalars(select(User).where(User.username == "team-a")).one()
        events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "alert")).all()
        assert [(e.action, e.entity_id) for e in events] == [("update", str(alert.id))]
        assert "Talt med" not in str(events[0].detail)  # the note stays on the alert, not in the trail
    assert (alert.note, alert.acknowledged_by) == ("Talt med den unge; henvist til egen læge", team_a.id)


def test_the_due_list_says_which_family_and_person_each_alert_is_about(app, low_who5, login_as):
    client = login_as("team-a")
    due = _page(client, "/due")
    alerts = due[due.index(HEADING):due.index("</section>", due.index(HEADING))]
    family = low_who5["family"]
    assert f'href="/families/{family}">ALERT-1</a>' in alerts
    assert "Stor (" in alerts  # the young person the WHO-5 is about, with their role


def test_another_municipality_cannot_see_or_acknowledge_the_alert(app, low_who5, login_as):
    client = login_as("team-b")
    assert "Advarsler at følge op" not in _page(client, "/due")
    token = csrf_token(_page(client, "/due"))
    refused = client.post(f"/alerts/{_alert(app).id}/acknowledge", data={"csrf_token": token, "note": "x"})
    assert refused.status_code == 404
    assert _alert(app).acknowledged_at is None


def test_formengine_alert_is_called_once_per_alert(app, low_who5, recording):
    assert recording.calls == [("likely_depression", "who5", low_who5["uuid"], "Demo Kommune A", "who5")]
    registry = get_registry(app)
    with get_db(app).session() as session:
        response = session.scalars(select(Response).where(Response.uuid == low_who5["uuid"])).one()
        rescore(session, response, registry.get("who5"))  # the same answers raise nothing new
        session.commit()
        assert notify(session, registry, response) == 0
        assert len(session.scalars(select(Alert)).all()) == 1
    assert len(recording.calls) == 1


def test_an_alert_flag_is_marked_on_the_result_page_and_a_good_result_raises_none(app, low_who5, login_as):
    client = login_as("team-a")
    html = _page(client, f"/responses/{low_who5['uuid']}")
    assert 'class="level-alert"' in html and "Advarsel:" in html
    token = csrf_token(_page(client, "/instruments/who5"))
    good = {f"who5_{i}": "4" for i in range(1, 6)}
    posted = client.post("/instruments/who5", data={"csrf_token": token, **good})
    assert HEADING not in _page(client, posted.headers["Location"])


def _alert(app) -> Alert:
    with get_db(app).session() as session:
        alert = session.scalars(select(Alert)).one()
        session.expunge(alert)
        return alert
