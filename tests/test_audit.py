"""The audit trail: append-only, attributed to the signed-in user."""

import pytest
from sqlalchemy import select

from formengine import audit
from formengine.db import get_db
from formengine.models import AuditEvent, User


def _newest(s):
    """The newest event (the demo data writes events of its own)."""
    return s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()


def test_record_outside_a_request_stores_the_given_user(app, demo):
    with get_db(app).session() as s:
        user = s.scalars(select(User).where(User.username == "team-a")).one()
        audit.record(s, "view", "family", 17, {"case": "x"}, user=user)
    with get_db(app).session() as s:
        event = _newest(s)
        assert (event.username, event.action, event.entity) == ("team-a", "view", "family")
        assert event.entity_id == "17"
        assert event.municipality_id == user.municipality_id
        assert event.detail == {"case": "x"}


def test_events_cannot_be_changed_or_deleted_through_the_orm(app, demo):
    with get_db(app).session() as s:
        audit.record(s, "create", "family", 1, username="cli")
    with pytest.raises(PermissionError), get_db(app).session() as s:
        event = _newest(s)
        event.action = "delete"
    with pytest.raises(PermissionError), get_db(app).session() as s:
        s.delete(_newest(s))
    with get_db(app).session() as s:
        assert _newest(s).action == "create"


def test_an_event_needs_an_action_and_an_entity(app):
    with get_db(app).session() as s, pytest.raises(ValueError):
        audit.record(s, "", "family", 1)


def test_raw_sql_and_bulk_statements_cannot_change_the_trail(app, demo):
    from sqlalchemy import delete, text, update
    from sqlalchemy.exc import DBAPIError

    with get_db(app).session() as s:
        audit.record(s, "view", "family", 1, username="x")
    engine = get_db(app).engine
    for statement in (text("UPDATE audit_event SET action = 'delete'"), text("DELETE FROM audit_event"),
                      update(AuditEvent).values(action="delete"), delete(AuditEvent),
                      text("DELETE FROM audit_chain")):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    with pytest.raises(DBAPIError, match="append-only"), get_db(app).session() as s:
        s.query(AuditEvent).delete()
    with get_db(app).session() as s:
        assert _newest(s).action == "view"
        assert audit.verify(s).ok


def test_the_municipality_admin_reads_only_their_trail(app, login_as):
    client = login_as("admin-a")
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "admin-a" in html and "login" in html
    team = app.test_client()
    from tests.conftest import login

    login(team, "team-a")
    assert team.get("/admin/audit").status_code == 403
