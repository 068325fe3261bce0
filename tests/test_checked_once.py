"""Signed values checked once (session cookie, CSRF token) and the stepper's response read with the user:
every check still refuses what it refused before."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from formengine.db import get_db, load_plain_with
from formengine.models import Response, User
from formengine.web import checked
from tests.conftest import csrf_token, login
from tests.test_fill import start

HX = {"HX-Request": "true"}
VERSION = re.compile(r'id="fill-version" value="(\d+)"')


def _step(client, uuid):
    html = client.get(f"/fill/{uuid}").get_data(as_text=True)
    page = re.search(r'name="page" value="([^"]+)"', html).group(1)
    return html, page, int(VERSION.search(html).group(1))


def _save(client, uuid, token, page, version, value="3", key=None):
    headers = {**HX, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": str(version), "page": page,
                                                   page: value, "go": "next"}, headers=headers)


def test_the_reply_carries_the_token_the_save_was_checked_with_and_it_keeps_working(app, login_as):
    client = login_as("team-a")
    uuid = start(client)
    html, page, version = _step(client, uuid)
    token = csrf_token(html)
    for number in range(4):  # the first save checks the signature, the next ones find it checked
        reply = _save(client, uuid, token, page, version, key=f"save-key-{number:04d}")
        assert reply.status_code == 200, reply.get_data(as_text=True)
        body = reply.get_data(as_text=True)
        assert csrf_token(body) == token
        page = re.search(r'name="page" value="([^"]+)"', body).group(1)
        version = int(reply.headers["X-Draft-Version"])
    with get_db(app).session() as session:
        assert session.scalar(select(Response.version).where(Response.uuid == uuid)) == version


def test_a_checked_token_is_refused_in_another_session_and_after_logout(app, demo):
    first = app.test_client()
    login(first, "team-a")
    uuid = start(first)
    html, page, version = _step(first, uuid)
    token = csrf_token(html)
    assert _save(first, uuid, token, page, version).status_code == 200
    version += 1
    page = _step(first, uuid)[1]
    # Another browser of the same user: its session has a token of its own.
    second = app.test_client()
    login(second, "team-a")
    refused = _save(second, uuid, token, page, version)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    # A token altered by one character is refused although the real one was checked.
    # (Not the last character: of a 20-byte signature's last base64 character only the first 4 bits count,
    # so changing it may leave the same signature.)
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert _save(first, uuid, tampered, page, version).status_code == 400
    # After logging out and in again the old token belongs to an ended session.
    logout_token = csrf_token(first.get(f"/fill/{uuid}").get_data(as_text=True))
    first.post("/logout", data={"csrf_token": logout_token})
    login(first, "team-a")
    assert _save(first, uuid, token, page, version).status_code == 400
    with get_db(app).session() as session:
        assert session.scalar(select(Response.version).where(Response.uuid == uuid)) == version


def test_a_kept_session_cookie_is_not_accepted_past_its_lifetime_or_under_another_key(app, demo, monkeypatch):
    client = app.test_client()
    login(client, "team-a")
    client.get("/instruments")
    cookie = client.get_cookie("session").value
    assert client.get("/instruments").status_code == 200  # the cookie is checked and kept
    assert client.get_cookie("session").value == cookie
    interface = app.session_interface
    assert isinstance(interface, checked.CheckedSessionInterface)
    key, signed_at, data = interface.kept.get(cookie)
    assert data.get("_user_id")
    # Past the session's lifetime the kept cookie is refused as the signature check refuses it.
    lifetime = int(app.permanent_session_lifetime.total_seconds())
    real_time = time.time
    monkeypatch.setattr(checked.time, "time", lambda: real_time() + lifetime + 60)
    with app.test_request_context(headers={"Cookie": f"session={cookie}"}):
        from flask import request
        assert dict(interface.open_session(app, request)) == {}
    monkeypatch.setattr(checked.time, "time", real_time)
    with app.test_request_context(headers={"Cookie": f"session={cookie}"}):
        from flask import request
        assert dict(interface.open_session(app, request))["_user_id"] == data["_user_id"]
        # Kept under another secret key: checked again, and refused under the new key.
        app.secret_key = "another-secret"
        try:
            assert dict(interface.open_session(app, request)) == {}
        finally:
            app.secret_key = "test-secret"


def test_each_request_gets_its_own_copy_of_a_kept_session(app, demo):
    client = app.test_client()
    login(client, "team-a")
    client.get("/instruments")
    cookie = client.get_cookie("session").value
    client.get("/instruments")
    interface = app.session_interface
    assert interface.kept.get(cookie) is not None
    with app.test_request_context(headers={"Cookie": f"session={cookie}"}):
        from flask import request
        one = interface.open_session(app, request)
        one["lang"] = "en"
        two = interface.open_session(app, request)
        assert "lang" not in two or two["lang"] != "en"


def test_the_stepper_response_is_read_with_the_user_and_scoped_to_their_municipality(app, demo):
    client = app.test_client()
    login(client, "team-a")
    uuid = start(client)
    with get_db(app).session() as session:
        team_a = session.scalar(select(User).where(User.username == "team-a"))
        team_b = session.scalar(select(User).where(User.username == "team-b"))
        a_id, b_id = team_a.id, team_b.id
    with get_db(app).session() as session:
        user, response = load_plain_with(session, User, {"id": a_id}, None, Response, {"uuid": uuid},
                                         same={"municipality_id": "municipality_id"})
        expected = session.scalar(select(Response).where(Response.uuid == uuid).execution_options(
            populate_existing=True))
        assert user.username == "team-a" and response is expected and response.answers == {}
        assert not session.dirty
    with get_db(app).session() as session:
        user, response = load_plain_with(session, User, {"id": b_id}, None, Response, {"uuid": uuid},
                                         same={"municipality_id": "municipality_id"})
        assert user.username == "team-b" and response is None
        assert load_plain_with(session, User, {"id": 10**6}, None, Response, {"uuid": uuid},
                               same={"municipality_id": "municipality_id"}) == (None, None)
    # Over the web: the other municipality's team member gets 404 for every stepper route.
    other_client = app.test_client()
    login(other_client, "team-b")
    token = csrf_token(other_client.get("/instruments").get_data(as_text=True))
    assert other_client.get(f"/fill/{uuid}").status_code == 404
    posted = other_client.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": "1",
                                                           "page": "who5_1", "who5_1": "3"}, headers=HX)
    assert posted.status_code == 404
    with get_db(app).session() as session:
        assert session.scalar(select(Response.version).where(Response.uuid == uuid)) == 1
