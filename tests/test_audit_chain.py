"""The audit trail's hash chain, `formengine audit verify`, and least privilege on PostgreSQL."""

from __future__ import annotations

import secrets
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from formengine import audit
from formengine.cli import main
from formengine.db import get_db
from formengine.models import AuditChain, AuditEvent


def run_cli(app, *args):
    return CliRunner().invoke(main, list(args), obj=_script_info(app), catch_exceptions=False)


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def add_events(app, n, **detail):
    with get_db(app).session() as s:
        for i in range(n):
            audit.record(s, "view", "family", i, {"n": i, **detail}, username="tester")


def tamper(app, statement: str, **params):
    """What someone with the database owner's (or the SQLite file's) rights could do."""
    engine = get_db(app).engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            conn.execute(text(statement), params)
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
        else:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name = 'audit_event'")).all()
            for name, _sql in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            conn.execute(text(statement), params)
            for _name, sql in triggers:
                conn.execute(text(sql))


def test_each_event_carries_the_previous_events_hash(app):
    add_events(app, 3)
    with get_db(app).session() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        head = s.get(AuditChain, 1)
    assert events[0].prev_hash == audit.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert (head.last_hash, head.events) == (events[-1].hash, 3)
    result = run_cli(app, "audit", "verify")
    assert result.exit_code == 0 and "intact: 3 events" in result.output


def test_a_rolled_back_change_leaves_no_event_and_no_gap_in_the_chain(app):
    add_events(app, 1)
    with pytest.raises(RuntimeError), get_db(app).session() as s:
        audit.record(s, "change", "person", 1, username="tester")
        raise RuntimeError("the change failed")
    add_events(app, 1)
    with get_db(app).session() as s:
        assert s.scalar(select(AuditChain.events)) == 2
        assert audit.verify(s).ok


def test_verify_names_an_edited_event(app):
    add_events(app, 5)
    with get_db(app).session() as s:
        third = s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()[2]
    tamper(app, "UPDATE audit_event SET username = 'someone else' WHERE id = :id", id=third)
    result = run_cli(app, "audit", "verify")
    assert result.exit_code == 1
    assert f"broken at event {third}: its content was changed" in result.output


def test_verify_names_the_event_after_a_removed_one(app):
    add_events(app, 5)
    with get_db(app).session() as s:
        ids = s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
    tamper(app, "DELETE FROM audit_event WHERE id = :id", id=ids[1])
    result = run_cli(app, "audit", "verify")
    assert result.exit_code == 1
    assert f"broken at event {ids[2]}: it does not carry the previous event's hash" in result.output


def test_verify_notices_events_removed_from_the_end(app):
    add_events(app, 4)
    with get_db(app).session() as s:
        last = s.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())).first()
    tamper(app, "DELETE FROM audit_event WHERE id = :id", id=last)
    result = run_cli(app, "audit", "verify")
    assert result.exit_code == 1 and "events at the end were removed" in result.output


def test_concurrent_writers_keep_one_unbroken_chain(app):
    """Several workers appending at once (threads with their own connections, like gunicorn workers)."""
    writers, each = 6, 15
    errors = []

    def work(n):
        try:
            for i in range(each):
                with get_db(app).session() as s:
                    audit.record(s, "view", "person", f"{n}-{i}", username=f"worker{n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with get_db(app).session() as s:
        result = audit.verify(s)
    assert result.ok and result.events == writers * each


@pytest.fixture
def app_role(app):
    """A PostgreSQL role with the application's least privileges (dropped afterwards)."""
    engine = get_db(app).engine
    if engine.dialect.name != "postgresql":
        pytest.skip("roles and privileges exist on PostgreSQL only; SQLite is covered by its triggers")
    role = f"fe_sec_app_{secrets.token_hex(4)}"
    result = run_cli(app, "init-db", "--app-role", role, "--create-app-role")
    assert result.exit_code == 0, result.output
    url = make_url(app.config["DATABASE_URL"]).set(username=role, password=None)
    role_engine = create_engine(url)
    yield role, role_engine
    role_engine.dispose()
    with engine.begin() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"), {"r": role})
        conn.execute(text(f'DROP OWNED BY "{role}"'))
        conn.execute(text(f'DROP ROLE "{role}"'))


def test_the_application_role_may_only_add_to_and_read_the_audit_trail(app, app_role, make_app):
    role, role_engine = app_role
    # The whole application works as this role: log in (an audited event) and read the trail.
    from tests.conftest import login

    role_app = make_app(DATABASE_URL=role_engine.url.render_as_string(hide_password=False))
    from formengine.demo import load_demo
    from formengine.registry import get_registry

    with get_db(app).session() as s:
        load_demo(s, get_registry(app))
    client = role_app.test_client()
    assert login(client, "admin-a").status_code == 302
    assert client.get("/admin/audit").status_code == 200
    get_db(role_app).engine.dispose()
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event",
                      "TRUNCATE audit_event", "ALTER TABLE audit_event DISABLE TRIGGER USER",
                      "DROP TABLE audit_event CASCADE", "DELETE FROM audit_chain",
                      "CREATE TABLE fe_probe (id int)"):
        with pytest.raises(DBAPIError, match="permission denied|must be owner|append-only"), \
                role_engine.begin() as conn:
            conn.execute(text(statement))
    with role_engine.begin() as conn:  # ordinary data stays writable
        conn.execute(text("UPDATE user_account SET language = 'da' WHERE username = 'admin-a'"))
    with get_db(app).session() as s:
        assert audit.verify(s).ok


def test_init_db_refuses_an_unknown_role_without_create_and_the_owner_itself(app):
    if get_db(app).engine.dialect.name != "postgresql":
        result = run_cli(app, "init-db", "--app-role", "fe_sec_nobody")
        assert result.exit_code == 1 and "PostgreSQL only" in result.output
        return
    missing = run_cli(app, "init-db", "--app-role", f"fe_sec_missing_{secrets.token_hex(3)}")
    assert missing.exit_code == 1 and "does not exist" in missing.output
    owner = make_url(app.config["DATABASE_URL"]).username
    itself = run_cli(app, "init-db", "--app-role", owner)
    assert itself.exit_code == 1 and "must not be the owner" in itself.output
