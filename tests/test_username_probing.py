"""An administrator cannot use "add user" to find out another municipality's login names."""

from __future__ import annotations

from sqlalchemy import func, select

from formengine.db import get_db
from formengine.models import AuditEvent, User
from tests.conftest import csrf_token, login


def _admin(app, name):
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


def _add(client, username):
    page = client.get("/admin/users").get_data(as_text=True)
    return client.post("/admin/users", data={"csrf_token": csrf_token(page), "username": username,
                                             "role": "team_member", "password": "long-enough-2"})


def test_refused_names_are_audited_and_soon_stop_every_add(app, demo):
    app.config["USERNAME_REFUSALS_PER_HOUR"] = 3
    b = _admin(app, "admin-b")
    for name in ("admin-a", "team-a", "team-b"):  # two of another municipality, one of its own
        refused = _add(b, name)
        assert refused.status_code == 400
        assert "Brugernavnet kan ikke bruges" in refused.get_data(as_text=True)
    # Past the limit a free name gets the same answer as a taken one: no more probing this hour.
    free, taken = _add(b, "brand-new-b"), _add(b, "sysadmin")
    assert free.status_code == taken.status_code == 429
    assert "For mange brugernavne" in free.get_data(as_text=True)
    with get_db(app).session() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.username == "brand-new-b")) == 0
        admin_b = s.scalar(select(User).where(User.username == "admin-b"))
        tried = s.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "refuse",
                                                             AuditEvent.entity == "user")
                          .order_by(AuditEvent.id)).all()
        assert tried == ["admin-a", "team-a", "team-b"]
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "refuse")).all()
        assert {(e.user_id, e.municipality_id) for e in events} == {(admin_b.id, admin_b.municipality_id)}
    # Another administrator is not affected.
    assert _add(_admin(app, "admin-a"), "brand-new-a").status_code == 303
