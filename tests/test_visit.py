"""Preparing a home visit: the family's due forms started and prepared for use offline, in one go."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import func, select

from formengine.db import get_db
from formengine.models import Family, Response
from tests.conftest import csrf_token, load_demo_into, login


@pytest.fixture
def app(make_app):
    app = make_app()
    load_demo_into(app, cases=True)
    return app


def family_id(app, case_ref="DEMO-A-07"):
    with get_db(app).session() as session:
        return session.scalar(select(Family.id).where(Family.case_ref == case_ref))


def drafts(app, fid):
    with get_db(app).session() as session:
        family = session.get(Family, fid)
        persons = [p.id for p in family.persons]
        return session.scalar(select(func.count()).select_from(Response).where(
            Response.person_id.in_(persons), Response.status == "draft"))


def token_for(client, fid):
    return csrf_token(client.get(f"/families/{fid}").get_data(as_text=True))


def test_preparing_a_visit_starts_the_due_forms_and_gives_each_prepared_with_one_verifier(app):
    client = app.test_client()
    login(client, "team-a")
    fid = family_id(app)
    assert drafts(app, fid) == 0
    page = client.get(f"/families/{fid}").get_data(as_text=True)
    assert "Forbered besøg" in page
    reply = client.post(f"/families/{fid}/visit", data={"csrf_token": csrf_token(page), "secret": "1234"})
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    visit = reply.get_json()
    # The same forms the family page offers to start (baseline due today), each a draft now.
    assert len(visit["forms"]) == drafts(app, fid) == 9
    first = visit["forms"][0]
    assert first["url"] == f"/fill/{first['response']}" and first["who"] in ("Forælder", "Ung")
    assert all(f["bundle"]["response"] == f["response"] and f["bundle"]["pages"] for f in visit["forms"])
    # One verifier of the secret for the whole visit; no names of the family, no secret in clear.
    verifier = visit["verifier"]
    assert all(f["bundle"]["verifier"] == verifier for f in visit["forms"])
    salt = base64.b64decode(verifier["salt"])
    digest = hashlib.pbkdf2_hmac("sha256", b"1234", salt, verifier["iterations"])
    assert base64.b64encode(digest).decode() == verifier["hash"]
    assert verifier["iterations"] >= 300_000
    body = reply.get_data(as_text=True)
    assert "1234" not in body and "Camilla" not in body and "Noah" not in body
    # Preparing again reuses the drafts.
    again = client.post(f"/families/{fid}/visit",
                        data={"csrf_token": token_for(client, fid), "secret": "demo"})
    assert again.status_code == 200
    assert sorted(f["response"] for f in again.get_json()["forms"]) == \
        sorted(f["response"] for f in visit["forms"])
    assert drafts(app, fid) == 9


def test_a_family_of_another_municipality_is_not_found_and_nothing_starts(app):
    client, other = app.test_client(), app.test_client()
    login(client, "team-a")
    login(other, "team-b")
    fid = family_id(app)
    token = csrf_token(other.get("/families").get_data(as_text=True))
    reply = other.post(f"/families/{fid}/visit", data={"csrf_token": token, "secret": "1234"})
    assert reply.status_code == 404
    assert client.post("/families/999999/visit", data={"csrf_token": token_for(client, fid),
                                                       "secret": "1234"}).status_code == 404
    assert drafts(app, fid) == 0


def test_without_the_form_token_or_with_a_wrong_secret_nothing_starts(app):
    client = app.test_client()
    login(client, "team-a")
    fid = family_id(app)
    assert client.post(f"/families/{fid}/visit", data={"secret": "1234"}).status_code == 400
    wrong = client.post(f"/families/{fid}/visit",
                        data={"csrf_token": token_for(client, fid), "secret": "0000"})
    assert wrong.status_code == 403 and "forms" not in wrong.get_json()
    empty = client.post(f"/families/{fid}/visit", data={"csrf_token": token_for(client, fid)})
    assert empty.status_code == 403
    assert client.get(f"/families/{fid}/visit").status_code == 405
    assert drafts(app, fid) == 0


def test_guessing_the_pin_through_preparing_a_visit_ends_the_session(app):
    client = app.test_client()
    login(client, "team-a")
    fid = family_id(app)
    token = token_for(client, fid)
    for _ in range(5):
        client.post(f"/families/{fid}/visit", data={"csrf_token": token, "secret": "9999"})
    assert client.get("/offline/key").status_code in (302, 401)
    assert drafts(app, fid) == 0


def test_a_family_without_consent_gets_nothing_prepared(app):
    client = app.test_client()
    login(client, "team-a")
    fid = family_id(app, "DEMO-A-06")  # consent not recorded
    reply = client.post(f"/families/{fid}/visit",
                        data={"csrf_token": token_for(client, fid), "secret": "1234"})
    assert reply.status_code == 409
    skipped = reply.get_json()["skipped"]
    assert skipped and all(s["reason"] == "Intet samtykke" for s in skipped)
    assert drafts(app, fid) == 0


def test_the_visit_page_and_its_offline_copy_carry_no_personal_data(app):
    client = app.test_client()
    shell = client.get("/offline/app")  # public: the service worker keeps it
    text = shell.get_data(as_text=True)
    assert shell.status_code == 200 and "visit-root" in text and "csrf-token" not in text
    assert "formengine-user" not in text.replace('meta[name="formengine-user"]', "")
    assert client.get("/visit").status_code in (302, 401)
    login(client, "team-a")
    page = client.get("/visit").get_data(as_text=True)
    assert "visit-root" in page and "DEMO-" not in page
    cached = client.get("/sw.js").get_data(as_text=True).split("var FILES = [", 1)[1].split("]", 1)[0]
    assert '"/offline/app"' in cached and '"/static/offline-store.js"' in cached


def test_while_handed_over_the_offline_copy_is_served_but_the_visit_page_leads_back_to_the_form(app):
    client = app.test_client()
    login(client, "team-a")
    fid = family_id(app)
    visit = client.post(f"/families/{fid}/visit",
                        data={"csrf_token": token_for(client, fid), "secret": "1234"}).get_json()
    uuid = visit["forms"][0]["response"]
    page = client.get(f"/fill/{uuid}").get_data(as_text=True)
    client.post(f"/fill/{uuid}/handover", data={"csrf_token": csrf_token(page)})
    assert client.get("/offline/app").status_code == 200  # the service worker may refresh its copy
    reply = client.get("/visit")
    assert reply.status_code in (302, 303) and reply.headers["Location"].endswith(f"/fill/{uuid}")
    again = client.post(f"/families/{fid}/visit", data={"csrf_token": csrf_token(page), "secret": "1234"})
    assert again.status_code in (302, 303)  # no other family's page, nor preparing, while handed over
