"""Data migrations on a populated database: rows written in an older schema, then upgraded to today's.

Each test builds its own database (a file on SQLite; a database of its own on
PostgreSQL, dropped afterwards), migrates it to an earlier revision, writes rows
the way the application of that time did, and upgrades through the migration
under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from formengine import create_app
from formengine.db import Database, get_db
from formengine.models.base import JSONType, UTCDateTime

NOW = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
WHO5 = {f"who5_{i}": 3 for i in range(1, 6)}


@pytest.fixture
def scratch_url(database_url, tmp_path) -> Iterator[str]:
    """An empty database of the test's backend, for migrating step by step."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'older.db'}"
        return
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from tests.conftest import _admin_connection

    base = make_url(database_url)
    name = f"{base.database}_migrations"
    with _admin_connection(database_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield base.set(database=name).render_as_string(hide_password=False)
    with _admin_connection(database_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate(url: str, revision: str) -> None:
    db = Database(url)
    try:
        command.upgrade(db.alembic_config(), revision)
    finally:
        db.engine.dispose()


def _tables() -> dict[str, sa.TableClause]:
    """The tables as they were at revision 0401_alerts (only the columns these tests write)."""
    c = sa.column
    return {
        "municipality": sa.table("municipality", c("id", sa.Integer), c("name", sa.String),
                                 c("settings", JSONType), c("cpr_enabled", sa.Boolean),
                                 c("pseudonym_key", sa.String), c("created_at", UTCDateTime)),
        "family": sa.table("family", c("id", sa.Integer), c("municipality_id", sa.Integer),
                           c("case_ref", sa.String), c("enrolled_on", sa.Date), c("status", sa.String),
                           c("created_at", UTCDateTime)),
        "person": sa.table("person", c("id", sa.Integer), c("family_id", sa.Integer),
                           c("municipality_id", sa.Integer), c("role", sa.String), c("name", sa.String),
                           c("sex", sa.String), c("status", sa.String), c("birth_date", sa.Date),
                           c("created_at", UTCDateTime)),
        "wave": sa.table("wave", c("id", sa.Integer), c("municipality_id", sa.Integer),
                         c("family_id", sa.Integer), c("kind", sa.String), c("number", sa.Integer),
                         c("due_on", sa.Date), c("created_at", UTCDateTime)),
        "response": sa.table("response", c("id", sa.Integer), c("uuid", sa.String),
                             c("instrument_id", sa.String), c("instrument_version", sa.String),
                             c("status", sa.String), c("answers", JSONType), c("declined", JSONType),
                             c("mode", sa.String), c("language", sa.String), c("wording", JSONType),
                             c("created_at", UTCDateTime), c("updated_at", UTCDateTime),
                             c("submitted_at", UTCDateTime), c("version", sa.Integer),
                             c("municipality_id", sa.Integer), c("person_id", sa.Integer),
                             c("about_person_id", sa.Integer), c("wave_id", sa.Integer)),
        "score": sa.table("score", c("id", sa.Integer), c("response_id", sa.Integer),
                          c("instrument_version", sa.String), c("scoring_version", sa.String),
                          c("valid", sa.Boolean), c("scores", JSONType), c("bands", JSONType),
                          c("flags", JSONType), c("options", JSONType), c("computed_at", UTCDateTime)),
        "audit_event": sa.table("audit_event", c("id", sa.Integer), c("at", UTCDateTime),
                                c("user_id", sa.Integer), c("username", sa.String),
                                c("municipality_id", sa.Integer), c("action", sa.String),
                                c("entity", sa.String), c("entity_id", sa.String), c("detail", JSONType)),
    }


def _response(id_: int, *, person_id: int | None, about_person_id: int | None, wave_id: int | None,
              mode: str, day: int) -> dict:
    moment = NOW.replace(day=day)
    return {"id": id_, "uuid": f"00000000-0000-4000-8000-{id_:012d}", "instrument_id": "who5",
            "instrument_version": "1.0.0", "status": "submitted", "answers": WHO5, "declined": [],
            "mode": mode, "language": "da", "wording": {"kind": "project_labels"}, "created_at": moment,
            "updated_at": moment, "submitted_at": moment, "version": 1, "municipality_id": 1,
            "person_id": person_id, "about_person_id": about_person_id, "wave_id": wave_id}


def _populate_before_about_self(url: str) -> None:
    """One parent measured on the tablet (about herself) and on paper (imported: about nobody)."""
    t = _tables()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(t["municipality"].insert(), [{"id": 1, "name": "Gammel Kommune", "settings": {},
                                                   "cpr_enabled": False, "pseudonym_key": "k" * 64,
                                                   "created_at": NOW}])
        conn.execute(t["family"].insert(), [{"id": 1, "municipality_id": 1, "case_ref": "F-1",
                                             "enrolled_on": date(2024, 3, 1), "status": "open",
                                             "created_at": NOW}])
        conn.execute(t["person"].insert(), [
            {"id": 1, "family_id": 1, "municipality_id": 1, "role": "parent", "name": "Mor", "sex": "female",
             "status": "open", "birth_date": date(1984, 2, 3), "created_at": NOW},
            {"id": 2, "family_id": 1, "municipality_id": 1, "role": "child", "name": "Barn",
             "sex": "male", "status": "open", "birth_date": date(2014, 5, 1), "created_at": NOW},
        ])
        conn.execute(t["wave"].insert(), [
            {"id": 1, "municipality_id": 1, "family_id": 1, "kind": "baseline", "number": 1,
             "due_on": date(2024, 3, 1), "created_at": NOW},
            {"id": 2, "municipality_id": 1, "family_id": 1, "kind": "progress", "number": 2,
             "due_on": date(2024, 9, 1), "created_at": NOW},
        ])
        conn.execute(t["response"].insert(), [
            _response(1, person_id=1, about_person_id=1, wave_id=1, mode="in_person", day=1),  # tablet
            _response(2, person_id=1, about_person_id=None, wave_id=2, mode="paper", day=20),  # imported
            _response(3, person_id=1, about_person_id=2, wave_id=2, mode="paper", day=21),  # about the child
            _response(4, person_id=None, about_person_id=None, wave_id=None, mode="in_person", day=22),
        ])
        conn.execute(t["score"].insert(), [
            {"id": n, "response_id": n, "instrument_version": "1.0.0", "scoring_version": "1", "valid": True,
             "scores": {"raw": 15, "percent": 60}, "bands": {"percent": "good_wellbeing"}, "flags": [],
             "options": {}, "computed_at": NOW} for n in (1, 2, 3, 4)
        ])
        conn.execute(t["audit_event"].insert(), [
            {"id": n, "at": NOW.replace(minute=n), "user_id": None, "username": "team-a",
             "municipality_id": 1, "action": "submit", "entity": "response",
             "entity_id": f"00000000-0000-4000-8000-{n:012d}", "detail": {"instrument": "who5"}}
            for n in (1, 2, 3)
        ])
        if conn.dialect.name == "postgresql":  # rows given their ids: move the id sequences past them
            for name in t:
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT max(id) FROM {name}))"))
    engine.dispose()


def test_about_self_pairs_one_persons_tablet_and_paper_answers(scratch_url, tmp_path):
    migrate(scratch_url, "0401_alerts")
    _populate_before_about_self(scratch_url)
    migrate(scratch_url, "0250_about_self")
    engine = sa.create_engine(scratch_url)
    with engine.connect() as conn:
        subjects = dict(conn.execute(sa.text("SELECT id, about_person_id FROM response ORDER BY id")).all())
    engine.dispose()
    # The imported self-report is now about its respondent, like the tablet's; a form about the child
    # keeps its subject; a practice fill (no respondent) stays about nobody.
    assert subjects == {1: 1, 2: 1, 3: 2, 4: None}

    migrate(scratch_url, "heads")
    app = create_app({"DATABASE_URL": scratch_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "TESTING": True})
    try:
        from formengine.registry import get_registry
        from formengine.reports.progression import progression_report

        with get_db(app).session() as session:
            report = progression_report(session, get_registry(app).get("who5"), "percent", 1, 2)
        # the tablet baseline and the paper follow-up of the same person
        assert len(report.pairs) == 1 and report.n_first_only == 0
    finally:
        get_db(app).engine.dispose()


def test_the_audit_chain_migration_chains_the_events_already_stored(scratch_url, tmp_path):
    """0301 on a populated database: existing events are chained in id order, then the trail is sealed."""
    migrate(scratch_url, "0401_alerts")
    _populate_before_about_self(scratch_url)
    migrate(scratch_url, "0300_session_version")
    migrate(scratch_url, "0301_audit_chain")
    engine = sa.create_engine(scratch_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, prev_hash, hash FROM audit_event ORDER BY id")).all()
        chain = conn.execute(sa.text("SELECT last_hash, events FROM audit_chain")).one()
    engine.dispose()
    assert [r.id for r in rows] == [1, 2, 3]
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert tuple(chain) == (rows[2].hash, 3)

    migrate(scratch_url, "heads")
    app = create_app({"DATABASE_URL": scratch_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "TESTING": True})
    try:
        from formengine import audit
        from formengine.models import AuditEvent

        with get_db(app).session() as session:
            assert audit.verify(session).ok
            audit.record(session, "view", "response", "x", {}, username="team-a", municipality_id=1)
        with get_db(app).session() as session:
            result = audit.verify(session)
            assert result.ok and result.events == 4
        # The migrated trail refuses changes like a new one.
        with pytest.raises(Exception), get_db(app).session() as session:  # noqa: B017, PT011
            session.execute(sa.update(AuditEvent).where(AuditEvent.id == 1).values(username="someone"))
    finally:
        get_db(app).engine.dispose()
