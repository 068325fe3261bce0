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


def start_practice(client, instrument_id="who5"):
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    reply = client.post(f"/fill/start/{instrument_id}", data={"csrf_token": token})
    return reply.headers["Location"].rsplit("/", 1)[-1], token


def test_preparing_a_form_needs_the_pin_and_gives_every_step_and_a_verifier_of_it(app):
    import hashlib

    client = app.test_client()
    login(client, "team-a")
    uuid, token = start_practice(client)
    wrong = client.post(f"/fill/{uuid}/offline", data={"csrf_token": token, "secret": "0000"})
    assert wrong.status_code == 403 and "verifier" not in wrong.get_json()
    reply = client.post(f"/fill/{uuid}/offline", data={"csrf_token": token, "secret": "1234"})
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    bundle = reply.get_json()
    assert [p["id"] for p in bundle["pages"]] == ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5"]
    assert all('id="fill-step"' in p["html"] for p in bundle["pages"])
    assert bundle["items"]["who5_1"]["type"] == "choice" and bundle["items"]["who5_1"]["decline"]
    verifier = bundle["verifier"]
    assert verifier["iterations"] >= 300_000
    salt = base64.b64decode(verifier["salt"])
    digest = hashlib.pbkdf2_hmac("sha256", b"1234", salt, verifier["iterations"])
    assert base64.b64encode(digest).decode() == verifier["hash"]
    assert "1234" not in reply.get_data(as_text=True)


def test_a_prepared_form_carries_both_answer_languages_and_a_template_for_new_group_entries(app):
    client = app.test_client()
    login(client, "team-a")
    uuid, token = start_practice(client, "loft_worksheet")
    bundle = client.post(f"/fill/{uuid}/offline", data={"csrf_token": token, "secret": "1234"}).get_json()
    # The form's own language at the top, the other one beside it (each once).
    assert bundle["lang"] == "da" and set(bundle["languages"]) == {"en"}
    danish, english = bundle, bundle["languages"]["en"]
    assert danish["words"]["review"] == "Se svarene igennem" and 'lang="da"' in danish["pages"][0]["html"]
    assert english["words"]["review"] == "Check the answers" and 'lang="en"' in english["pages"][0]["html"]
    assert english["items"]["goals"]["label"] == "The family's goals"
    goals = danish["items"]["goals"]
    # The codec's rules for the group travel with it: the tablet adds and removes entries as the server does.
    assert goals["type"] == "group" and goals["min_repeat"] == 1 and goals["max_repeat"] == 5
    assert goals["order"] == ["goal_no", "goal", "scaling", "scaled_on"]
    assert goals["items"]["goal_no"] == {**goals["items"]["goal_no"], "type": "number", "integer": True,
                                         "min": 1, "max": 5}
    assert danish["items"]["exceptions"]["required"] is False
    assert goals["items"]["scaling"]["codes"]["4"] == 4 and goals["items"]["scaling"]["options"]["4"] == "4"
    # Refusals are worded as the server words them, in each language.
    assert danish["problems"]["too_large"] == "{item}: {value} er for stort (højst {limit})"
    assert english["problems"]["too_large"] == "{item}: {value} is out of range (at most {limit})"
    # One entry with placeholders for its index and number, as the step renders it.
    entry = danish["entries"]["goals"]
    assert 'name="goals__%I%__goal"' in entry and 'value="remove:goals:%I%"' in entry
    assert "Nr. %N%" in entry and "Entry %N%" in english["entries"]["goals"]
    assert 'data-group="goals"' in danish["pages"][0]["html"]


def test_a_language_switch_from_the_answer_queue_says_the_drafts_version(app):
    client = app.test_client()
    login(client, "team-a")
    uuid, token = start_practice(client)
    reply = client.post(f"/fill/{uuid}/language", data={"csrf_token": token, "lang": "en", "page": "who5_2"},
                        headers={"HX-Request": "true", "Idempotency-Key": "switch-0001"})
    assert reply.status_code == 204 and reply.headers["HX-Redirect"].endswith("?page=who5_2")
    assert reply.headers["X-Draft-Version"] == "2"
    again = client.post(f"/fill/{uuid}/language", data={"csrf_token": token, "lang": "en", "page": "who5_2"},
                        headers={"HX-Request": "true", "Idempotency-Key": "switch-0001"})
    assert again.headers["X-Draft-Version"] == "2"  # sent twice (a lost reply), applied once
    # A plain form post still leads to the step in the new language.
    plain = client.post(f"/fill/{uuid}/language", data={"csrf_token": token, "lang": "da", "page": "who5_2"})
    assert plain.status_code == 303 and plain.headers["X-Draft-Version"] == "3"


def test_guessing_the_pin_through_preparing_ends_the_session(app):
    client = app.test_client()
    login(client, "team-a")
    uuid, token = start_practice(client)
    for _ in range(5):
        client.post(f"/fill/{uuid}/offline", data={"csrf_token": token, "secret": "9999"})
    assert client.get("/offline/key").status_code in (302, 401)


def test_another_municipality_cannot_prepare_a_form(app):
    client, other = app.test_client(), app.test_client()
    login(client, "team-a")
    login(other, "team-b")
    uuid, _ = start_practice(client)
    token = csrf_token(other.get("/instruments").get_data(as_text=True))
    reply = other.post(f"/fill/{uuid}/offline", data={"csrf_token": token, "secret": "1234"})
    assert reply.status_code == 404


def test_the_service_worker_and_its_offline_page_carry_no_personal_data(app):
    client = app.test_client()
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/"
    page = client.get("/offline")
    assert page.status_code == 200 and "Ingen forbindelse" in page.get_data(as_text=True)
    # It caches the offline page and the app's own files only.
    cached = worker.get_data(as_text=True).split("var FILES = [", 1)[1].split("]", 1)[0]
    assert all(name.strip().strip('"').startswith(("/static/", "/offline")) for name in cached.split(","))
