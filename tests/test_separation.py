"""Strict separation between municipalities, over every route the application has.

The routes come from ``app.url_map``, so routes other parts add later are
covered automatically: a route whose URL names a municipality-scoped record
must answer 404 to users of another municipality (403 only where the same
user is refused its own municipality's record too, i.e. a role check), and
must change nothing. A new URL parameter that is neither mapped below nor
listed as unscoped makes this test fail, so it cannot slip through unchecked.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from formengine import clock
from formengine.db import get_db
from formengine.models import (
    Alert,
    AuditEvent,
    Consent,
    Family,
    InstrumentSetting,
    Municipality,
    Person,
    PlanRule,
    RescoreRun,
    Response,
    User,
    Wave,
)
from formengine.registry import get_registry
from formengine.responses import start_draft
from tests.conftest import csrf_token, load_demo_into, login

# URL parameters that name a municipality's record, and how to find one for a municipality.
SCOPED = ("family_id", "person_id", "consent_id", "wave_id", "rule_id", "response_uuid", "user_id",
          "alert_id", "run_id")
# URL parameters that name nothing municipality-specific.
UNSCOPED = {"instrument_id": "who5", "filename": "formengine.css"}
# Endpoints deliberately left out, with the reason.
EXEMPT = {
    "static": "vendored files and stylesheets, no data",
    "auth.login": "signing in as another user is covered by the auth tests",
    "auth.logout": "ends the session the test needs",
}

TODAY = clock.today().isoformat()



def readable_body(response) -> str:
    """What a download shows, as text: a ZIP's files one after another, binary files (Stata,
    SPSS) with their text fields readable, so a leak inside any of them is found."""
    data = response.get_data()
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = b"\n".join(archive.read(name) for name in archive.namelist())
    return data.decode("utf-8", "replace")

def records(app, municipality_name: str) -> dict[str, list]:
    """Ids of one municipality's records, for every scoped URL parameter (several where it matters)."""
    with get_db(app).session() as s:
        m = s.scalars(select(Municipality).where(Municipality.name == municipality_name)).one()
        family = s.scalars(select(Family).where(Family.municipality_id == m.id, Family.status == "open")
                           .order_by(Family.id)).first()
        person = s.scalars(select(Person).where(Person.family_id == family.id).order_by(Person.id)).first()
        consent = s.scalars(select(Consent).where(Consent.person_id == person.id)).first()
        family_wave = s.scalars(select(Wave).where(Wave.family_id == family.id).order_by(Wave.number)).first()
        round_wave = s.scalars(select(Wave).where(Wave.municipality_id == m.id, Wave.family_id.is_(None))
                               .order_by(Wave.number)).first()
        rule = s.scalars(select(PlanRule).where(PlanRule.municipality_id == m.id)).first()
        submitted = s.scalars(select(Response).where(Response.municipality_id == m.id,
                                                     Response.status == "submitted",
                                                     Response.person_id.is_not(None))).first()
        instrument = get_registry(app).get("who5")
        draft = start_draft(s, instrument, municipality_id=m.id, entered_by=None,
                            wording={"kind": "project_labels"}, person_id=person.id,
                            about_person_id=person.id, wave_id=family_wave.id)
        names = [p.name for p in s.scalars(select(Person).where(Person.municipality_id == m.id))]
        team = s.scalars(select(User).where(User.municipality_id == m.id, User.role == "team_member")).first()
        alert = Alert(response_id=submitted.id, municipality_id=m.id, family_id=family.id,
                      person_id=person.id, instrument_id=submitted.instrument_id,
                      code="separation_check", message="Follow up.")
        s.add(alert)
        run = RescoreRun(instruments=["who5"], municipality_id=m.id, dry_run=True, status="done",
                         summary={"examined": 1, "unchanged": 1})
        s.add(run)
        s.flush()
        return {
            "municipality": m.id, "names": names,
            "family_id": [family.id], "person_id": [person.id], "consent_id": [consent.id],
            "wave_id": [family_wave.id] + ([round_wave.id] if round_wave else []),
            "rule_id": [rule.id], "response_uuid": [submitted.uuid, draft.uuid], "user_id": [team.id],
            "alert_id": [alert.id],
            "run_id": [run.id],
        }


def state(app, municipality_id: int) -> dict[str, object]:
    """Everything a request could change about one municipality's data."""
    with get_db(app).session() as s:
        def count(model, *where):
            return s.scalar(select(func.count()).select_from(model).where(
                model.municipality_id == municipality_id, *where))
        return {
            "families": sorted((f.case_ref, f.status, f.closed_on) for f in s.scalars(
                select(Family).where(Family.municipality_id == municipality_id))),
            "persons": sorted((p.id, p.status, p.name) for p in s.scalars(
                select(Person).where(Person.municipality_id == municipality_id))),
            "consents": sorted((c.id, c.withdrawn_on) for c in s.scalars(
                select(Consent).where(Consent.municipality_id == municipality_id))),
            "responses": sorted((r.uuid, r.status, r.version, str(r.answers)) for r in s.scalars(
                select(Response).where(Response.municipality_id == municipality_id))),
            "rules": count(PlanRule),
            "settings": sorted((i.instrument_id, i.enabled) for i in s.scalars(
                select(InstrumentSetting).where(InstrumentSetting.municipality_id == municipality_id))),
            "waves": count(Wave),
            "municipality": str(s.get(Municipality, municipality_id).settings),
            "users": sorted((u.username, u.active) for u in s.scalars(
                select(User).where(User.municipality_id == municipality_id))),
            "alerts": sorted((a.id, a.acknowledged_at, a.note) for a in s.scalars(
                select(Alert).where(Alert.municipality_id == municipality_id))),
        }


def routes(app):
    """(endpoint, rule, methods, scoped args) for every route; unknown parameters fail here."""
    out, unknown = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXEMPT:
            continue
        args = sorted(rule.arguments)
        strange = [a for a in args if a not in SCOPED and a not in UNSCOPED]
        if strange:
            unknown.append(f"{rule.rule} ({', '.join(strange)})")
        methods = sorted(rule.methods & {"GET", "POST"})
        out.append((rule.endpoint, rule, methods, [a for a in args if a in SCOPED]))
    assert not unknown, (
        "routes with URL parameters this separation test does not know; map them in SCOPED "
        "(and in records()) or UNSCOPED, or list the endpoint in EXEMPT with a reason: " + "; ".join(unknown))
    return out


def form_data(token: str, target: dict[str, list], municipality_id: int) -> dict[str, str]:
    """A plausible superset of every form's fields, naming the target municipality's records."""
    return {
        "csrf_token": token, "municipality": str(municipality_id), "instrument_id": "who5",
        "wave_id": str(target["wave_id"][0]), "about_person_id": str(target["person_id"][0]),
        "person_id": str(target["person_id"][0]), "family_id": str(target["family_id"][0]),
        "mode": "in_person", "closed_on": TODAY, "close_persons": "y", "given_by": "x", "given_on": TODAY,
        "scope": "x", "withdrawn_on": TODAY, "role": "child", "name": "x", "birth_date": "2010-01-01",
        "sex": "female", "version": "1", "who5_1": "3", "case_ref": "X-1", "enrolled_on": TODAY,
    }


def markers(app, target: dict[str, list], municipality_name: str) -> list[re.Pattern]:
    letter = municipality_name[-1]
    words = [f"DEMO-{letter}-", municipality_name] + target["names"] + target["response_uuid"]
    return [re.compile(rf"(?<![\w-]){re.escape(w)}(?![\w])") for w in words]


@pytest.fixture
def two_municipalities(app):
    load_demo_into(app, cases=True)
    a = records(app, "Demo Kommune A")
    b = records(app, "Demo Kommune B")
    return app, a, b


def client_for(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


@pytest.mark.parametrize("username", ["team-b", "admin-b"])
def test_every_route_about_another_municipalitys_record_is_not_found(two_municipalities, username):
    app, a, b = two_municipalities
    before = state(app, a["municipality"])
    client = client_for(app, username)
    token = csrf_token(client.get("/due").get_data(as_text=True))
    checked = 0
    for endpoint, rule, methods, scoped in routes(app):
        if not scoped:
            continue
        for values in _combinations(rule, a):
            url = _build(app, rule, values)
            for method in methods:
                for headers in ({}, {"HX-Request": "true"}):
                    if method == "GET":
                        response = client.get(url, headers=headers)
                    else:
                        response = client.post(url, data=form_data(token, a, a["municipality"]),
                                               headers=headers)
                    status = response.status_code
                    if status == 403:
                        own = _build(app, rule, _combinations(rule, b)[0])
                        again = client.get(own) if method == "GET" else client.post(
                            own, data=form_data(token, b, b["municipality"]))
                        assert again.status_code == 403, (
                            f"{username} {method} {url}: 403 for another municipality's record but "
                            f"{again.status_code} for its own: answer 404 instead")
                    else:
                        assert status == 404, f"{username} {method} {url} ({endpoint}) gave {status}, not 404"
                    checked += 1
    assert checked > 40
    assert state(app, a["municipality"]) == before


def test_routes_without_a_record_id_show_nothing_of_another_municipality(two_municipalities):
    app, a, b = two_municipalities
    before = state(app, a["municipality"])
    patterns = markers(app, a, "Demo Kommune A")
    for username in ("team-b", "admin-b"):
        client = client_for(app, username)
        token = csrf_token(client.get("/due").get_data(as_text=True))
        for endpoint, rule, methods, scoped in routes(app):
            if scoped or endpoint in ("auth.set_language",):
                continue
            url = _build(app, rule, {})
            query = {"municipality": a["municipality"], "municipality_id": a["municipality"],
                     "family_id": a["family_id"][0], "person_id": a["person_id"][0]}
            for method in methods:
                if method == "GET":
                    response = client.get(url, query_string=query)
                else:
                    response = client.post(url, data=form_data(token, a, a["municipality"]))
                body = readable_body(response)
                leaked = [p.pattern for p in patterns if p.search(body)]
                assert not leaked, f"{username} {method} {url} shows municipality A's data: {leaked}"
    assert state(app, a["municipality"]) == before


def test_the_records_used_open_for_their_own_municipality_and_the_system_administrator(two_municipalities):
    """Guards against a vacuous pass: the same ids open for team-a and for the system administrator."""
    app, a, _b = two_municipalities
    for username in ("team-a", "sysadmin"):
        client = client_for(app, username)
        for endpoint, rule, methods, scoped in routes(app):
            if not scoped or "GET" not in methods:
                continue
            for values in _combinations(rule, a):
                url = _build(app, rule, values)
                status = client.get(url).status_code
                assert status != 404, f"{username} GET {url} ({endpoint}) gave 404 for its own record"


def test_another_municipalitys_audit_trail_is_not_shown(two_municipalities):
    app, a, b = two_municipalities
    client = client_for(app, "admin-a")
    client.get(f"/families/{a['family_id'][0]}")
    other = client_for(app, "admin-b")
    html = other.get("/admin/audit", query_string={"municipality": a["municipality"]}).get_data(as_text=True)
    with get_db(app).session() as s:
        a_events = list(s.scalars(select(AuditEvent).where(AuditEvent.municipality_id == a["municipality"])))
    assert a_events and "admin-a" not in html and "team-a" not in html


def _combinations(rule, target) -> list[dict[str, object]]:
    """Every combination of the target's ids for the rule's scoped arguments."""
    combos: list[dict[str, object]] = [{}]
    for arg in sorted(rule.arguments):
        choices = target[arg] if arg in SCOPED else [UNSCOPED[arg]]
        combos = [{**c, arg: v} for c in combos for v in choices]
    return combos


def _build(app, rule, values) -> str:
    values = {**{k: v for k, v in UNSCOPED.items() if k in rule.arguments}, **values}
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)
