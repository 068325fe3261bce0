"""Administration: scripted set-up from the command line, and the web pages for catalogue and plan."""

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from formengine import clock
from formengine.cli import main
from formengine.db import get_db
from formengine.models import AuditEvent, InstrumentSetting, Municipality, PlanRule, User
from formengine.security import verify_secret
from tests.conftest import csrf_token, login
from tests.test_cases import family_html, make_family, planned


@pytest.fixture
def cli(make_app, database_url, tmp_path, monkeypatch):
    """Run ``formengine ...`` against the test database; returns (invoke, app)."""
    app = make_app()
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("FORMENGINE_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke, app


def test_scripted_set_up_of_a_municipality_a_user_and_an_instrument(cli):
    run, app = cli
    result = run("admin", "add-municipality", "Testby Kommune", "--tolerance-weeks", "2")
    assert result.exit_code == 0, result.output
    result = run("admin", "add-user", "lead", "--role", "municipality_admin", "--municipality",
                 "Testby Kommune", "--name", "Lead", "--password-stdin", input="long-enough-1\n")
    assert result.exit_code == 0, result.output
    assert "long-enough-1" not in result.output
    result = run("admin", "enable-instrument", "Testby Kommune", "who5")
    assert result.exit_code == 0 and "Licence:" in result.output
    with get_db(app).session() as s:
        municipality = s.scalars(select(Municipality).where(Municipality.name == "Testby Kommune")).one()
        assert municipality.settings["tolerance_weeks"] == 2 and not municipality.cpr_enabled
        user = s.scalars(select(User).where(User.username == "lead")).one()
        assert (user.role, user.municipality_id) == ("municipality_admin", municipality.id)
        assert verify_secret(user.password_hash, "long-enough-1")
        setting = s.scalars(select(InstrumentSetting)).one()
        assert (setting.instrument_id, setting.enabled) == ("who5", True)
        # The plan was seeded from the plugins, including WHO-5's own rule.
        rules = {r.instrument_id for r in s.scalars(select(PlanRule).where(
            PlanRule.municipality_id == municipality.id))}
        assert {"who5", "progress_child", "fidelity"} <= rules
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        actions = [(e.action, e.entity, e.username) for e in events]
        assert actions == [("create", "municipality", "cli"), ("create", "user", "cli"),
                           ("enable", "instrument", "cli")]
    result = run("admin", "enable-instrument", "Testby Kommune", "who5", "--disable")
    assert result.exit_code == 0 and "kept" in result.output


@pytest.mark.parametrize("args, message", [
    (("add-user", "x", "--role", "team_member", "--password-stdin"), "give --municipality"),
    (("add-user", "x", "--role", "sysadmin", "--municipality", "A", "--password-stdin"), "belongs to no"),
    (("add-user", "x", "--role", "team_member", "--municipality", "Nowhere", "--password-stdin"),
     "no municipality"),
    (("enable-instrument", "Testby Kommune", "nope"), "unknown instrument 'nope'"),
    (("enable-instrument", "Nowhere", "who5"), "no municipality"),
    (("add-municipality", "Testby Kommune"), "already exists"),
])
def test_bad_input_gets_one_clear_line_and_changes_nothing(cli, args, message):
    run, app = cli
    assert run("admin", "add-municipality", "Testby Kommune").exit_code == 0
    with get_db(app).session() as s:
        before = (len(s.scalars(select(User)).all()), len(s.scalars(select(InstrumentSetting)).all()),
                  len(s.scalars(select(Municipality)).all()))
    result = run("admin", *args, input="long-enough-1\n")
    assert result.exit_code != 0 and message in result.output
    with get_db(app).session() as s:
        after = (len(s.scalars(select(User)).all()), len(s.scalars(select(InstrumentSetting)).all()),
                 len(s.scalars(select(Municipality)).all()))
    assert before == after


def test_short_password_is_refused(cli):
    run, _app = cli
    run("admin", "add-municipality", "Testby Kommune")
    result = run("admin", "add-user", "y", "--role", "team_member", "--municipality", "Testby Kommune",
                 "--password-stdin", input="short\n")
    assert result.exit_code != 0 and "at least 8" in result.output


def test_team_members_cannot_reach_administration(client, demo):
    login(client, "team-a")
    for url in ("/admin/", "/admin/instruments", "/admin/plan", "/admin/audit"):
        assert client.get(url).status_code == 403


def test_enabling_shows_the_licence_note_first(app, login_as):
    client = login_as("admin-a")
    page = client.get("/admin/instruments/who5/enable")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Psychiatric Research Unit" in html
    with get_db(app).session() as s:  # the demo enables everything: start from nothing enabled
        s.execute(delete(InstrumentSetting))
    done = client.post("/admin/instruments/who5/enable", data={"csrf_token": csrf_token(html)})
    assert done.status_code == 303
    with get_db(app).session() as s:
        settings = s.scalars(select(InstrumentSetting))
        assert [(i.instrument_id, i.enabled) for i in settings] == [("who5", True)]
    assert client.get("/admin/instruments/not_installed/enable").status_code == 404


def test_a_plan_rule_and_the_tolerance_window_change_what_is_due(app, login_as):
    ids = make_family(app, enrolled_on=clock.today() - timedelta(days=20))
    client = login_as("admin-a")
    page = client.get("/admin/plan").get_data(as_text=True)
    # A rule asking parents for WHO-5 at every measurement.
    added = client.post("/admin/plan/rules", data={
        "csrf_token": csrf_token(page), "instrument_id": "who5", "respondent_role": "parent",
        "about": "self", "min_age": "", "max_age": "", "waves": ["baseline", "progress", "closing"],
        "filled_by": "respondent"})
    assert added.status_code == 303
    html = family_html(client, ids["family"])
    forms = [f for f in html.split("<form") if f'/persons/{ids["Mor"]}/measure' in f]
    assert any('value="who5"' in f for f in forms)
    # A bad rule is refused with its reason and nothing is added.
    with get_db(app).session() as s:
        count = len(s.scalars(select(PlanRule)).all())
    bad = client.post("/admin/plan/rules", data={
        "csrf_token": csrf_token(page), "instrument_id": "who5", "respondent_role": "child",
        "about": "child", "waves": ["baseline"], "filled_by": "respondent"})
    assert bad.status_code == 400 and "about a child" in bad.get_data(as_text=True)
    with get_db(app).session() as s:
        assert len(s.scalars(select(PlanRule)).all()) == count
    # Removing WHO-5's own rule takes it off the young person's list.
    with get_db(app).session() as s:
        rule = s.scalars(select(PlanRule).where(PlanRule.instrument_id == "who5",
                                                PlanRule.respondent_role == "youth")).one()
    assert client.post(f"/admin/plan/rules/{rule.id}/delete",
                       data={"csrf_token": csrf_token(page)}).status_code == 303
    html = family_html(client, ids["family"])
    stor_forms = [f for f in html.split("<form") if f'/persons/{ids["Stor"]}/measure' in f]
    assert not any('value="who5"' in f for f in stor_forms)
    # Enrolled 20 days ago: due with the default ±4 weeks, overdue with ±2.
    assert "status-due" in family_html(client, ids["family"])
    client.post("/admin/plan/schedule", data={"csrf_token": csrf_token(page), "tolerance_weeks": "2",
                                               "interval_months": "6"})
    html = family_html(client, ids["family"])
    assert "Måling 1 (indskrivning) — Overskredet" in html
    assert "background_child" in planned(html)
    refused = client.post("/admin/plan/schedule", data={"csrf_token": csrf_token(page),
                                                         "tolerance_weeks": "13", "interval_months": "6"})
    assert refused.status_code == 400


def test_an_administrator_adds_and_deactivates_users_of_their_own_municipality(app, login_as):
    client = login_as("admin-a")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "team-a" in page and "team-b" not in page
    added = client.post("/admin/users", data={"csrf_token": csrf_token(page), "username": "new-a",
                                              "display_name": "Ny", "role": "team_member",
                                              "password": "long-enough-2"})
    assert added.status_code == 303
    # A system administrator cannot be created here, and a taken username is refused.
    for data in ({"username": "x", "role": "sysadmin", "password": "long-enough-2"},
                 {"username": "team-b", "role": "team_member", "password": "long-enough-2"},
                 {"username": "y", "role": "team_member", "password": "short"}):
        assert client.post("/admin/users", data={"csrf_token": csrf_token(page), **data}).status_code == 400
    with get_db(app).session() as s:
        user = s.scalars(select(User).where(User.username == "new-a")).one()
        admin = s.scalars(select(User).where(User.username == "admin-a")).one()
        assert (user.role, user.municipality_id) == ("team_member", admin.municipality_id)
        assert not s.scalars(select(User).where(User.username.in_(["x", "y"]))).all()
    newcomer = app.test_client()
    assert login(newcomer, "new-a", "long-enough-2").status_code == 302
    assert client.post(f"/admin/users/{user.id}/active", data={"csrf_token": csrf_token(page),
                                                                 "active": "0"}).status_code == 303
    assert newcomer.get("/due").status_code == 302  # signed out: the account is deactivated
    assert login(app.test_client(), "new-a", "long-enough-2").status_code == 401
    assert client.post(f"/admin/users/{admin.id}/active", data={"csrf_token": csrf_token(page),
                                                                  "active": "0"}).status_code == 400
