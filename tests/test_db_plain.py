"""The plain one-row lookups of every request read the same values as the ORM and behave as loaded objects."""

from __future__ import annotations

from sqlalchemy import select

from formengine.db import get_db, load_plain
from formengine.models import Response, User, utcnow
from formengine.registry import get_registry
from formengine.responses import start_draft
from formengine.texts import ProjectLabels


def _columns(obj, model):
    return {attr.key: getattr(obj, attr.key) for attr in model.__mapper__.column_attrs}


def test_a_plain_lookup_reads_what_the_orm_reads(app, demo):
    instrument = get_registry(app).get("who5")
    with get_db(app).session() as session:
        user = session.scalars(select(User).where(User.username == "team-a")).one()
        user.last_login_at = utcnow()
        draft = start_draft(session, instrument, municipality_id=user.municipality_id, entered_by=user.id,
                            wording=ProjectLabels(instrument.definition).record())
        draft.answers = {"who5_1": 3}
        draft.declined = ["who5_2"]
        uuid, user_id, municipality_id = draft.uuid, user.id, user.municipality_id
    for model, where in ((Response, {"uuid": uuid, "municipality_id": municipality_id}),
                         (User, {"id": user_id})):
        with get_db(app).session() as session:
            expected = _columns(session.scalars(select(model).filter_by(**where)).one(), model)
        with get_db(app).session() as session:
            found = load_plain(session, model, where)
            assert _columns(found, model) == expected
            assert found in session and not session.dirty
    with get_db(app).session() as session:
        response = load_plain(session, Response, {"uuid": uuid, "municipality_id": municipality_id})
        assert response.answers == {"who5_1": 3} and response.created_at.tzinfo is not None
        assert load_plain(session, Response, {"uuid": uuid, "municipality_id": municipality_id}) is response
        assert load_plain(session, Response, {"uuid": uuid, "municipality_id": municipality_id + 1}) is None


def test_columns_not_read_load_when_used_and_changes_are_saved(app, demo):
    with get_db(app).session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "team-a"))
    with get_db(app).session() as session:
        user = load_plain(session, User, {"id": user_id}, keys=("id", "username", "active"))
        assert "password_hash" not in user.__dict__ and user.active is True
        assert user.password_hash  # loaded on first use
        user.display_name = "Changed"
    with get_db(app).session() as session:
        assert session.get(User, user_id).display_name == "Changed"
