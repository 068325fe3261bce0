"""Draft saves in the audit trail, as an administrator reads it: the first save of a draft in a
session, then at most one event per five minutes of saving, and every submit."""

from __future__ import annotations

import re
import time

import pytest

from formengine import audit
from formengine.db import get_db
from tests.conftest import csrf_token, load_demo_into, login

WHO5 = ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5"]
HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app):
    app = make_app()
    load_demo_into(app)
    return app


@pytest.fixture
def clock(monkeypatch):
    """The wall clock, moved forward by the test (sessions and bursts read time.time)."""
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def signed_in(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


class Tablet:
    """A team member's tablet saving a WHO-5 draft the way the stepper's htmx does."""

    def __init__(self, client, uuid):
        self.client, self.uuid = client, uuid
        html = client.get(f"/fill/{uuid}?page=who5_1").get_data(as_text=True)
        self.token = csrf_token(html)
        self.version = int(re.search(r'id="fill-version" value="(\d+)"', html).group(1))

    def save(self, page, code):
        response = self.client.post(f"/fill/{self.uuid}/save", headers=HX, data={
            "csrf_token": self.token, "version": str(self.version), "page": page, page: str(code),
            "go": "stay"})
        assert response.status_code == 200, response.get_data(as_text=True)
        self.version = int(re.search(r'id="fill-version" value="(\d+)"', response.get_data(as_text=True))
                           .group(1))

    def submit(self):
        response = self.client.post(f"/fill/{self.uuid}/submit",
                                    data={"csrf_token": self.token, "version": str(self.version)})
        assert response.status_code == 303, response.get_data(as_text=True)


def trail_rows(app, uuid):
    """(action, detail) of the rows about ``uuid`` on the municipality administrator's audit page,
    oldest first."""
    html = signed_in(app, "admin-a").get("/admin/audit").get_data(as_text=True)
    rows = re.findall(r"<td>([a-z_]+)</td><td>response " + uuid + r"</td>\s*<td>([^<]*)</td>", html)
    # the details as the page lists them, "key=value, ..." (in the database's key order)
    return [(action, dict(pair.split("=", 1) for pair in detail.split(", ") if pair))
            for action, detail in reversed(rows)]


def test_draft_saves_are_audited_per_session_every_five_minutes_and_at_submit(app, clock):
    team = signed_in(app, "team-a")
    token = csrf_token(team.get("/instruments").get_data(as_text=True))
    uuid = team.post("/fill/start/who5", data={"csrf_token": token}).headers["Location"].rsplit("/", 1)[-1]
    tablet = Tablet(team, uuid)
    for page in WHO5:  # five saves in a minute: one event, for the first
        tablet.save(page, 2)
        clock[0] += 12
    assert trail_rows(app, uuid) == [("create", {"instrument": "who5", "practice": "True"}),
                                     ("view", {"page": "step"}), ("change", {"version": "2"})]

    clock[0] += audit.BURST_SECONDS  # saving goes on after five minutes: one more event
    tablet.save("who5_1", 3)
    tablet.save("who5_2", 3)
    assert [row for row in trail_rows(app, uuid) if row[0] == "change"] == [
        ("change", {"version": "2"}), ("change", {"version": "7"})]

    other = Tablet(signed_in(app, "team-a"), uuid)  # another device (session) starts its own burst
    other.save("who5_3", 4)
    tablet.version = other.version
    tablet.submit()  # every submit is recorded
    rows = trail_rows(app, uuid)
    assert [row for row in rows if row[0] in ("change", "submit")] == [
        ("change", {"version": "2"}), ("change", {"version": "7"}), ("change", {"version": "9"}),
        ("submit", {"instrument": "who5", "cleared": "0", "declined": "0"})]
    with get_db(app).session() as session:
        assert audit.verify(session).ok
