"""Every route that shows or changes personal data writes an audit event, over every route there is.

The routes come from ``app.url_map`` (as in the separation test), so a route
added later is walked too. Each is requested for the user's own
municipality's records; a page about a family, person, consent or response,
a page that shows a family's case reference or a person's name, and a request
that changes any family data (including a draft's answers) must each have
added at least one event to the audit trail. A route whose URL has a parameter the
separation test does not know fails there first.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formengine.db import get_db
from formengine.demo import load_demo
from formengine.models import AuditEvent, Response
from formengine.registry import get_registry
from tests.conftest import csrf_token, login
from tests.test_separation import _build, _combinations, form_data, records, routes, state

# A page about one of these records shows personal data (answers, scores, consent, details).
PERSONAL = ("family_id", "person_id", "consent_id", "response_uuid")
# Endpoints left out of the walk, with the reason.
EXEMPT = {
    "auth.set_language": "stores the chosen language in the session, no personal data",
    "admin.set_active": "audited (test_sessions); deactivating the walking user would end the walk",
    "admin.end_sessions": "audited (test_sessions); ends the walking user's session",
}


@pytest.fixture
def municipality_a(app):
    with get_db(app).session() as s:
        load_demo(s, get_registry(app), cases=True)
    return app, records(app, "Demo Kommune A")


def audit_count(app) -> int:
    with get_db(app).session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def shows_personal_data(body: str, target: dict) -> list[str]:
    markers = ["DEMO-A-"] + [name for name in target["names"] if name]
    return [m for m in markers if m in body]


def test_every_route_that_shows_or_changes_personal_data_is_audited(municipality_a):
    app, a = municipality_a
    clients = {}

    def client_for(username, fresh=False):
        if fresh or username not in clients:
            client = app.test_client()
            assert login(client, username).status_code == 302
            clients[username] = client
        return clients[username]

    walked, unaudited = [], []
    plan = [(endpoint, rule, method, scoped) for endpoint, rule, methods, scoped in routes(app)
            if endpoint not in EXEMPT for method in methods]
    # Reads first, then changes; administrators' changes last (they may close what others need).
    plan.sort(key=lambda p: (p[2] != "GET", p[0].startswith("admin."), p[0]))
    for endpoint, rule, method, _scoped in plan:
        for values in _combinations(rule, a):
            url = _build(app, rule, values)
            for username in ("team-a", "admin-a"):
                # A fresh session each time: a change may start hand-over mode, and repeated reads of
                # one record within a session are recorded once per burst (audit.record_burst).
                client = client_for(username, fresh=True)
                before_state = state(app, a["municipality"])
                before = audit_count(app)
                if method == "GET":
                    response = client.get(url)
                else:
                    token = csrf_token(client.get("/instruments").get_data(as_text=True))
                    before = audit_count(app)
                    data = form_data(token, a, a["municipality"])
                    if endpoint == "fill.save":  # the stepper refuses fields that are not on the step
                        with get_db(app).session() as s:
                            version = s.scalar(select(Response.version).where(
                                Response.uuid == values["response_uuid"]))
                        data = {"csrf_token": token, "version": str(version), "page": "who5_1",
                                "who5_1": "3", "go": "stay"}
                    response = client.post(url, data=data)
                if response.status_code == 403:
                    continue  # not this user's role: the administrator tries next
                # a download may be binary (ZIP, Stata); what it shows is judged by its audit event
                body = response.get_data().decode("utf-8", "replace")
                shown = shows_personal_data(body, a) if response.status_code < 300 else []
                if response.status_code == 200 and any(arg in rule.arguments for arg in PERSONAL):
                    shown = shown or [f"the record in {rule.rule}"]
                changed = state(app, a["municipality"]) != before_state
                walked.append(f"{method} {url} {response.status_code}")
                if (shown or changed) and audit_count(app) == before:
                    what = ("shows " + ", ".join(shown[:3])) if shown else "changes family data"
                    unaudited.append(f"{username} {method} {url} ({endpoint}) {what}, no audit event")
                break
    assert len(walked) > 40
    assert unaudited == [], "\n".join(unaudited)
    with get_db(app).session() as s:  # the draft save was among the changes walked, and audited
        saves = s.scalars(select(AuditEvent).where(AuditEvent.action == "change",
                                                   AuditEvent.entity == "response"))
        assert any("version" in e.detail for e in saves)


def test_the_walk_notices_a_route_that_writes_no_event(municipality_a, monkeypatch):
    """Guards against a vacuous pass: with recording switched off, the family page is reported."""
    app, a = municipality_a
    from formengine import audit

    client = app.test_client()
    login(client, "team-a")
    before = audit_count(app)
    monkeypatch.setattr(audit, "record", lambda *args, **kwargs: None)
    body = client.get(f"/families/{a['family_id'][0]}").get_data(as_text=True)
    assert shows_personal_data(body, a) and audit_count(app) == before
