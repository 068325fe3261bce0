"""The plain one-row lookups of every request read the same values as the ORM and behave as loaded objects."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from formengine.db import get_db, load_plain
from formengine.models import Response, User, utcnow
from formengine.registry import get_registry
from formengine.responses import start_draft
from formengine.texts import ProjectLabels


def _columns(obj, model):
    return {attr.key: getattr(obj, attr.key) for attr in model.__mapper__.column_attrs}


@pytest.fixture(params=["as loaded", "public way"])
def attach(request, monkeypatch):
    """Both ways a plain row joins the session: SQLAlchemy's internals, or its public calls without them."""
    import formengine.db

    if request.param == "public way":
        monkeypatch.setattr(formengine.db, "_ATTACH_AS_LOADED", False)
    return request.param


def test_a_plain_lookup_reads_what_the_orm_reads(app, demo, attach):
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


def test_columns_not_read_load_when_used_and_changes_are_saved(app, demo, attach):
    with get_db(app).session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "team-a"))
    with get_db(app).session() as session:
        user = load_plain(session, User, {"id": user_id}, keys=("id", "username", "active"))
        assert "password_hash" not in user.__dict__ and user.active is True
        assert user.password_hash  # loaded on first use
        user.display_name = "Changed"
    with get_db(app).session() as session:
        assert session.get(User, user_id).display_name == "Changed"


class SentStatements:
    """What the PostgreSQL driver sends, in order: each statement's first word, and BEGIN and COMMIT.

    psycopg begins a transaction by sending BEGIN before a statement when the
    connection is not in autocommit mode and no transaction is open; a commit
    sends COMMIT only when one is.
    """

    def __init__(self, monkeypatch):
        import psycopg

        self.sent: list[str] = []
        execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit
        idle = psycopg.pq.TransactionStatus.IDLE

        def counted_execute(cursor, query, *args, **kwargs):
            connection = cursor.connection
            if not connection.autocommit and connection.info.transaction_status == idle:
                self.sent.append("BEGIN")
            self.sent.append(str(query).split(None, 1)[0].upper())
            return execute(cursor, query, *args, **kwargs)

        def counted_commit(connection):
            if connection.info.transaction_status != idle:
                self.sent.append("COMMIT")
            return commit(connection)

        monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
        monkeypatch.setattr(psycopg.Connection, "commit", counted_commit)


def _tablet(app):
    import re

    from tests.conftest import csrf_token, login

    client = app.test_client()
    assert login(client, "team-a").status_code == 302
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    uuid = client.post("/fill/start/who5", data={"csrf_token": token}).headers["Location"].rsplit("/", 1)[-1]
    html = client.get(f"/fill/{uuid}?page=who5_1").get_data(as_text=True)
    state = {"version": int(re.search(r'id="fill-version" value="(\d+)"', html).group(1))}

    def save(page, code, key):
        reply = client.post(f"/fill/{uuid}/save", headers={"HX-Request": "true", "Idempotency-Key": key},
                            data={"csrf_token": token, "version": str(state["version"]), "page": page,
                                  page: str(code), "go": "next"})
        assert reply.status_code == 200, reply.get_data(as_text=True)
        state["version"] = int(reply.headers["X-Draft-Version"])

    return uuid, save


def test_a_save_on_postgresql_is_its_read_and_its_write_without_begin_and_commit(app, demo, monkeypatch):
    if get_db(app).engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's round trips")
    from formengine import audit
    from formengine.models import AuditEvent

    uuid, save = _tablet(app)
    sent = SentStatements(monkeypatch)
    save("who5_1", 3, "first-save-key")  # the session's first save: audited, in one transaction with it
    first = list(sent.sent)
    assert first[:3] == ["SELECT", "BEGIN", "UPDATE"] and first[-2:] == ["INSERT", "COMMIT"], first
    del sent.sent[:]
    save("who5_2", 4, "second-save-key")  # within the burst: the read, then the write committed by itself
    assert sent.sent == ["SELECT", "UPDATE"]
    with get_db(app).session() as session:
        stored = session.scalars(select(Response).where(Response.uuid == uuid)).one()
        assert stored.answers == {"who5_1": 3, "who5_2": 4} and stored.version == 3
        assert stored.last_save_key == "second-save-key"
        changes = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == uuid,
                                                           AuditEvent.action == "change")).all()
        assert [event.detail for event in changes] == [{"version": 2}]
        assert audit.verify(session).ok


def test_after_a_read_on_its_own_the_next_transaction_is_one(app, demo):
    """The driver is back out of autocommit after a plain read: a later rollback undoes every write."""
    with get_db(app).session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "team-a"))
    session = get_db(app).sessionmaker()
    try:
        user = load_plain(session, User, {"id": user_id}, keys=("id", "username", "display_name"))
        user.display_name = "Changed"
        session.flush()
        session.execute(User.__table__.update().where(User.id == user_id).values(language="en"))
        session.rollback()
    finally:
        session.close()
    with get_db(app).session() as session:
        user = session.get(User, user_id)
        assert user.display_name != "Changed" and user.language != "en"


def test_a_write_alone_is_not_alone_with_other_changes_in_the_session(app, demo, monkeypatch):
    """``alone`` is refused when the session holds another change: both commit or neither does."""
    from formengine import audit, drafts

    monkeypatch.setattr(audit, "burst_due", lambda *args, **kwargs: False)  # as within a burst of saves
    instrument = get_registry(app).get("who5")
    with get_db(app).session() as session:
        user = session.scalars(select(User).where(User.username == "team-a")).one()
        draft = start_draft(session, instrument, municipality_id=user.municipality_id, entered_by=user.id,
                            wording=ProjectLabels(instrument.definition).record())
        uuid, user_id = draft.uuid, user.id
    session = get_db(app).sessionmaker()
    try:
        response = load_plain(session, Response, {"uuid": uuid})
        load_plain(session, User, {"id": user_id}).display_name = "Changed with the save"  # not flushed
        drafts.save_answers(session, response, instrument.definition, {"who5_1": 2}, response.version,
                            alone=True)
        session.rollback()
    finally:
        session.close()
    with get_db(app).session() as session:
        assert session.scalars(select(Response).where(Response.uuid == uuid)).one().answers == {}
        assert session.get(User, user_id).display_name != "Changed with the save"
