"""Plugin settings per municipality: declared with defaults, set by an administrator, used and recorded."""

from __future__ import annotations

from sqlalchemy import select

from formengine.db import get_db
from formengine.models import AuditEvent, PluginSettingValue, Response
from tests.conftest import csrf_token

# percent 32: "poor well-being" by Topp et al. 2015, "likely depression" in the Danish-practice scheme
WHO5_32 = {"who5_1": 2, "who5_2": 2, "who5_3": 2, "who5_4": 1, "who5_5": 1}


def _submit_who5(client):
    token = csrf_token(client.get("/instruments/who5").get_data(as_text=True))
    answers = {k: str(v) for k, v in WHO5_32.items()}
    posted = client.post("/instruments/who5", data={"csrf_token": token, **answers})
    assert posted.status_code == 302
    return posted.headers["Location"].rsplit("/", 1)[1]


def _score(app, uuid):
    with get_db(app).session() as session:
        score = session.scalars(select(Response).where(Response.uuid == uuid)).one().current_score
        return score.bands, score.options


def _settings_page(client):
    page = client.get("/admin/instruments/who5/settings")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_an_administrator_chooses_the_band_scheme_and_scores_record_it(demo, client, login_as):
    admin = login_as("admin-a")
    html = _settings_page(admin)
    assert "Båndinddeling" in html and "Topp" in html
    saved = admin.post("/admin/instruments/who5/settings",
                       data={"csrf_token": csrf_token(html), "who5_band_scheme": '"dk_practice"'})
    assert saved.status_code == 303
    admin.post("/logout", data={"csrf_token": csrf_token(_settings_page(admin))})

    team_a = login_as("team-a")
    bands, options = _score(demo, _submit_who5(team_a))
    assert bands == {"percent": "likely_depression"}
    assert options == {"who5_band_scheme": "dk_practice"}
    with get_db(demo).session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "plugin_settings")).one()
        assert event.detail == {"changed": {"who5_band_scheme": "dk_practice"}}


def test_the_default_scheme_applies_where_nothing_is_set_and_is_recorded(demo, login_as):
    team_b = login_as("team-b")
    bands, options = _score(demo, _submit_who5(team_b))
    assert bands == {"percent": "poor_wellbeing"}
    assert options == {"who5_band_scheme": "topp2015"}


def test_an_unknown_value_is_refused_at_the_form_and_changes_nothing(demo, login_as):
    admin = login_as("admin-a")
    html = _settings_page(admin)
    refused = admin.post("/admin/instruments/who5/settings",
                         data={"csrf_token": csrf_token(html), "who5_band_scheme": '"made_up"'})
    assert refused.status_code == 400
    assert "Not a valid choice" in refused.get_data(as_text=True)
    with get_db(demo).session() as session:
        assert session.scalars(select(PluginSettingValue)).all() == []


def test_team_members_cannot_change_settings(demo, login_as):
    team = login_as("team-a")
    assert team.get("/admin/instruments/who5/settings").status_code == 403
