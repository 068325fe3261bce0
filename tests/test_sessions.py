"""Sessions that can be ended, equal-time logins, throttling across addresses, the secret key."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
from sqlalchemy import select

from formengine import create_app
from formengine.config import ConfigError
from formengine.db import get_db
from formengine.models import User, utcnow
from tests.conftest import csrf_token, login


def copy_of_session(app, client):
    """A second client carrying a copy of ``client``'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def without_tokens(response, *names: str) -> str:
    """The page as a user reads it: CSRF tokens and the given usernames blanked."""
    import re

    text = re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))
    for name in names:
        text = text.replace(name, "X")
    return text


def post(client, url, **data):
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def test_a_copied_cookie_stops_working_at_logout(app, client, demo):
    assert login(client, "team-a").status_code == 302
    thief = copy_of_session(app, client)
    assert thief.get("/due").status_code == 200
    assert post(client, "/logout").status_code == 302
    assert thief.get("/due").status_code == 302  # to the login page
    assert "/login" in thief.get("/due").headers["Location"]


def test_changing_the_password_ends_other_sessions_and_keeps_this_one(app, client, demo):
    login(client, "team-a")
    other_device = app.test_client()
    login(other_device, "team-a")
    changed = post(client, "/account/password", current="demo", new="a-new-secret", repeat="a-new-secret")
    assert changed.status_code == 200 and "gemt" in changed.get_data(as_text=True)
    assert client.get("/due").status_code == 200
    assert other_device.get("/due").status_code == 302
    assert login(app.test_client(), "team-a", "a-new-secret").status_code == 302
    assert login(app.test_client(), "team-a", "demo").status_code == 401


def test_a_wrong_current_password_changes_nothing(app, client, demo):
    login(client, "team-a")
    refused = post(client, "/account/password", current="nope", new="a-new-secret", repeat="a-new-secret")
    assert refused.status_code == 400
    assert login(app.test_client(), "team-a").status_code == 302


def test_deactivation_and_end_all_sessions_log_the_user_out_everywhere(app, demo):
    team = app.test_client()
    login(team, "team-a")
    admin = app.test_client()
    login(admin, "admin-a")
    with get_db(app).session() as s:
        team_id = s.scalar(select(User.id).where(User.username == "team-a"))
    assert post(admin, f"/admin/users/{team_id}/sessions").status_code == 303
    assert team.get("/due").status_code == 302
    login(team, "team-a")  # a fresh login works again
    assert team.get("/due").status_code == 200
    assert post(admin, f"/admin/users/{team_id}/active", active="0").status_code == 303
    assert team.get("/due").status_code == 302
    with get_db(app).session() as s:
        from formengine.models import AuditEvent

        details = [e.detail for e in s.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(team_id),
                                                                        AuditEvent.action == "change"))]
    assert {"sessions": "ended"} in details and {"active": False} in details


def test_another_municipalitys_admin_cannot_end_a_users_sessions(app, demo):
    admin_b = app.test_client()
    login(admin_b, "admin-b")
    with get_db(app).session() as s:
        team_id = s.scalar(select(User.id).where(User.username == "team-a"))
    assert post(admin_b, f"/admin/users/{team_id}/sessions").status_code == 404


def test_idle_timeout_and_absolute_lifetime(make_app, monkeypatch):
    import time as real_time

    from formengine.demo import load_demo
    from formengine.web import sessions

    app = make_app(SESSION_TIMEOUT_MINUTES=10, SESSION_MAX_HOURS=1)
    from formengine.registry import get_registry

    with get_db(app).session() as s:
        load_demo(s, get_registry(app))
    now = [real_time.time()]
    monkeypatch.setattr(sessions.time, "time", lambda: now[0])
    client = app.test_client()
    login(client, "team-a")
    for _ in range(5):  # active every 9 minutes: stays signed in ...
        now[0] += 9 * 60
        assert client.get("/due").status_code == 200
    now[0] += 20 * 60  # ... until the hour since login has passed
    assert client.get("/due").status_code == 302
    login(client, "team-a")
    now[0] += 11 * 60  # idle longer than the timeout
    assert client.get("/due").status_code == 302


def test_unknown_and_known_usernames_cost_one_hash_verification_each(app, client, demo, monkeypatch):
    from formengine import security

    calls = []
    real_verify = security.verify_secret

    def counting(stored, secret):
        calls.append(stored)
        return real_verify(stored, secret)

    monkeypatch.setattr(security, "verify_secret", counting)
    assert login(client, "team-a", "wrong").status_code == 401
    known = len(calls)
    unknown_response = login(client, "nobody-here", "wrong")
    assert unknown_response.status_code == 401
    assert known == 1 and len(calls) == 2 and calls[1].startswith("$argon2id$")
    known_response = login(client, "team-b", "wrong")
    assert without_tokens(unknown_response, "nobody-here") == without_tokens(known_response, "team-b")


def test_an_inactive_user_gets_the_same_answer_as_a_wrong_password(app, client, demo):
    with get_db(app).session() as s:
        s.scalars(select(User).where(User.username == "team-a")).one().active = False
    inactive = login(client, "team-a")
    wrong = login(app.test_client(), "team-b", "wrong")
    assert inactive.status_code == wrong.status_code == 401
    assert without_tokens(inactive, "team-a") == without_tokens(wrong, "team-b")


def test_guesses_spread_over_many_addresses_are_throttled_per_username(app, demo):
    app.config["LOGIN_MAX_FAILURES_PER_USER"] = 8
    for n in range(4):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"
        for _ in range(2):
            assert login(client, "team-a", "guess").status_code == 401
    fifth = app.test_client()
    fifth.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    assert login(fifth, "team-a").status_code == 429
    assert login(fifth, "team-b").status_code == 302  # other users are not affected


def test_old_failures_no_longer_count(app, client, demo, monkeypatch):
    for _ in range(5):
        login(client, "team-a", "wrong")
    assert login(client, "team-a").status_code == 429
    later = utcnow() + timedelta(minutes=16)
    monkeypatch.setattr("formengine.web.auth.utcnow", lambda: later)
    assert login(client, "team-a").status_code == 302


def test_the_username_taken_message_does_not_say_where(app, demo):
    def add(admin_name, username):
        client = app.test_client()
        login(client, admin_name)
        page = client.get("/admin/users").get_data(as_text=True)
        response = client.post("/admin/users", data={"csrf_token": csrf_token(page), "username": username,
                                                      "role": "team_member", "password": "long-enough"})
        assert response.status_code == 400
        return response.get_data(as_text=True)

    own = add("admin-a", "team-a")
    other = add("admin-b", "admin-a")
    assert "kan ikke bruges" in own and "kan ikke bruges" in other
    assert "optaget" not in own + other


def test_the_session_cookie_is_secure_unless_switched_off(tmp_path, database_url, monkeypatch):
    monkeypatch.delenv("FORMENGINE_SESSION_COOKIE_SECURE", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": database_url, "TESTING": True})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    response = client.get("/login")
    assert "Secure" in response.headers["Set-Cookie"]
    monkeypatch.setenv("FORMENGINE_SESSION_COOKIE_SECURE", "false")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": database_url, "TESTING": True})
    assert app.config["SESSION_COOKIE_SECURE"] is False
    get_db(app).engine.dispose()


def test_an_empty_secret_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FORMENGINE_SECRET_KEY", "")
    with pytest.raises(ConfigError, match="secret key is empty"):
        create_app({"INSTANCE_PATH": str(tmp_path / "a")})
    monkeypatch.delenv("FORMENGINE_SECRET_KEY")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        create_app({"INSTANCE_PATH": str(tmp_path / "b")})


def _start_worker(instance: str, queue) -> None:
    from pathlib import Path

    from formengine.config import _instance_secret

    queue.put(_instance_secret(Path(instance) / "secret_key"))


def test_workers_starting_together_share_one_complete_key(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_start_worker, args=(str(tmp_path), queue)) for _ in range(6)]
    for worker in workers:
        worker.start()
    keys = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join()
    stored = (tmp_path / "secret_key").read_text()
    assert len(stored) == 64 and set(keys) == {stored}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no temporary files left
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
