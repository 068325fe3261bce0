"""Login: argon2 passwords, CSRF, logout, session timeout, and throttling of repeated failures."""

from datetime import timedelta

from sqlalchemy import select

from formengine.db import get_db
from formengine.models import AuditEvent, User
from tests.conftest import csrf_token, login


def events(app, action):
    with get_db(app).session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_passwords_are_stored_as_argon2_hashes(app, demo):
    with get_db(app).session() as s:
        user = s.scalars(select(User).where(User.username == "team-a")).one()
        assert user.password_hash.startswith("$argon2id$") and "demo" not in user.password_hash


def test_login_and_logout_are_in_the_audit_trail(app, client, demo):
    assert login(client, "team-a").status_code == 302
    token = csrf_token(client.get("/due").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/due").status_code == 302  # back to the login page
    assert [e.username for e in events(app, "login")] == ["team-a"]
    assert [e.username for e in events(app, "logout")] == ["team-a"]


def test_logout_needs_the_csrf_token(client, demo):
    login(client, "team-a")
    assert client.post("/logout").status_code == 400
    assert client.get("/due").status_code == 200


def test_repeated_failures_are_throttled_with_a_clear_message(app, client, demo):
    for _ in range(5):
        assert login(client, "team-a", "wrong").status_code == 401
    refused = login(client, "team-a", "demo")  # even the right password, while throttled
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)
    assert "For mange mislykkede login-forsøg" in text and "15 minutter" in text
    assert len(events(app, "login_failed")) == 5 and len(events(app, "login_throttled")) == 1
    # The failures carry the username and address, never the password typed.
    assert all("wrong" not in str(e.detail) for e in events(app, "login_failed"))
    # Another user from the same address, and the same user from another address, are not blocked.
    assert login(client, "team-b").status_code == 302
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert login(other, "team-a").status_code == 302


def test_throttling_message_in_english(app, client, demo):
    client.post("/language", data={"lang": "en", "next": "/login",
                                   "csrf_token": csrf_token(client.get("/login").get_data(as_text=True))})
    for _ in range(5):
        login(client, "admin-a", "nope")
    refused = login(client, "admin-a", "demo")
    assert refused.status_code == 429
    assert "Too many failed logins. Wait 15 minutes" in refused.get_data(as_text=True)


def test_many_usernames_from_one_address_are_throttled(app, make_app, demo):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    client = app.test_client()
    for name in ("x1", "x2", "x3"):
        assert login(client, name, "guess").status_code == 401
    assert login(client, "team-a").status_code == 429


def test_sessions_expire_after_the_configured_inactivity(make_app):
    app = make_app(SESSION_TIMEOUT_MINUTES=7)
    assert app.permanent_session_lifetime == timedelta(minutes=7)


def test_the_apps_address_leads_a_team_member_to_the_due_list(client, demo):
    """Opening the address and logging in lands on what is due, not on the practice forms."""
    first = client.get("/")
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    logged_in = client.post(first.headers["Location"], data={
        "csrf_token": csrf_token(page), "username": "team-a", "password": "demo"}, follow_redirects=True)
    assert logged_in.request.path == "/due" and "Målinger, der skal tages" in logged_in.get_data(as_text=True)
    practice = client.get("/instruments").get_data(as_text=True)
    assert "Kun til øvelse" in practice and "Start en øvelsesudfyldning" in practice
