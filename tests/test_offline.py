"""The key the tablet's answer queue encrypts waiting saves with: per user, gone after logout."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import csrf_token, load_demo_into, login


@pytest.fixture
def app(make_app):
    app = make_app()
    load_demo_into(app)
    return app


def device_key(client):
    reply = client.get("/offline/key")
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    data = reply.get_json()
    assert len(base64.b64decode(data["key"])) == 32
    return data["key"], data["id"]


def test_the_key_is_only_for_a_logged_in_team_member(app):
    assert app.test_client().get("/offline/key").status_code in (302, 401)


def test_the_key_is_stable_for_a_user_and_differs_between_users(app):
    team_a, again, team_b = app.test_client(), app.test_client(), app.test_client()
    login(team_a, "team-a")
    login(again, "team-a")
    login(team_b, "team-b")
    assert device_key(team_a) == device_key(team_a) == device_key(again)
    assert device_key(team_a)[0] != device_key(team_b)[0]


def test_logging_out_changes_the_key_so_what_was_sealed_with_it_cannot_be_read(app):
    client = app.test_client()
    login(client, "team-a")
    before = device_key(client)
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    login(client, "team-a")
    after = device_key(client)
    assert before[0] != after[0] and before[1] != after[1]
