"""The audit trail: record who viewed, created, changed, submitted, exported or deleted personal data.

Call :func:`record` next to the action, in the same database session, so the
event is committed (or rolled back) together with the change it describes.
The table is append-only: the ORM refuses updates and deletes, and triggers
refuse them for any SQL on both SQLite and PostgreSQL (where the application's
role may moreover only INSERT and SELECT; see :mod:`formengine.dbroles`).

Events form a hash chain: each carries the hash of the one before it and its
own hash over its content. :func:`record` only collects the event; when the
session commits, the events are chained and inserted while the single row of
``audit_chain`` is locked (``UPDATE ... RETURNING``), so appends from several
workers are serialised for the moment of the commit only, and the chain has
no forks. :func:`verify` walks the chain and names the first broken link.

``detail`` is stored in the database only; it must not carry free text a
family typed (answers, names), only ids, instrument ids, counts and the like.
Nothing here writes to the application log.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

from formengine.models import AuditChain, AuditEvent, User, utcnow

GENESIS = "0" * 64
_PENDING = "formengine.audit.pending"

# The verbs used across the application; other values are accepted but these are the vocabulary.
ACTIONS = (
    "view", "create", "change", "submit", "export", "delete",
    "login", "login_failed", "login_throttled", "logout",
    "enable", "disable",
)


def _current_user() -> Any | None:
    """The signed-in user inside a request, else None (CLI, scripts, tests)."""
    try:
        from flask import has_request_context
        from flask_login import current_user
    except ImportError:  # pragma: no cover - Flask is a hard dependency
        return None
    if not has_request_context():
        return None
    user = current_user._get_current_object() if hasattr(current_user, "_get_current_object") else None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def _client_address() -> str:
    """The client's address inside a request (behind a proxy, configure ProxyFix), else ""."""
    from flask import has_request_context, request

    return (request.remote_addr or "")[:45] if has_request_context() else ""


def record(
    session: Session,
    action: str,
    entity: str,
    entity_id: Any,
    detail: Mapping[str, Any] | None = None,
    *,
    user: User | None = None,
    municipality_id: int | None = None,
    username: str | None = None,
) -> AuditEvent:
    """Append one audit event and return it (added to ``session``; the caller commits).

    ``action`` is a verb such as "view", "create", "change", "submit",
    "export" or "delete"; ``entity`` the kind of record ("family", "person",
    "response", "report" ...); ``entity_id`` its id (stored as text).
    ``user`` defaults to the signed-in user; ``municipality_id`` defaults to
    that user's municipality, and should be given explicitly when a system
    administrator acts on a municipality's data so its administrators see it
    in their trail.
    """
    if not action or not entity:
        raise ValueError("an audit event needs an action and an entity")
    actor = user if user is not None else _current_user()
    event = AuditEvent(
        at=utcnow(),
        user_id=getattr(actor, "id", None),
        username=((username if username is not None else getattr(actor, "username", "")) or "")[:80],
        municipality_id=(municipality_id if municipality_id is not None
                         else getattr(actor, "municipality_id", None)),
        action=str(action)[:32],
        entity=str(entity)[:32],
        entity_id="" if entity_id is None else str(entity_id)[:64],
        # Stored as JSON: keep exactly what the database gives back, so the hash can be recomputed.
        detail=json.loads(json.dumps(dict(detail or {}))),
        address=_client_address(),
    )
    session.info.setdefault(_PENDING, []).append(event)
    return event


# A draft is saved at every answer: one event per save costs about a third of a save's time on
# SQLite (bench/audit_cost.py), so repeats within a browser session are recorded in bursts.
BURST_SECONDS = 300
_BURSTS = "_audit_bursts"


def record_burst(session: Session, action: str, entity: str, entity_id: Any,
                 detail: Mapping[str, Any] | None = None, *, municipality_id: int | None = None,
                 seconds: int = BURST_SECONDS) -> bool:
    """Record, unless this browser session recorded this action on this record in the last ``seconds``.

    For frequent repeats of one act: the first save of a draft in a session,
    then at most one event per ``seconds`` while the saving goes on (the
    submit is recorded on its own, always). A different user, device or
    browser session starts its own burst. Outside a request it always
    records. Returns whether an event was recorded.
    """
    from flask import has_request_context
    from flask import session as web_session

    if not burst_due(action, entity, entity_id, seconds=seconds):
        return False
    if has_request_context():
        now = int(time.time())
        bursts = {k: v for k, v in dict(web_session.get(_BURSTS) or {}).items() if now - v < seconds}
        bursts[_burst_key(action, entity, entity_id)] = now
        web_session[_BURSTS] = dict(sorted(bursts.items(), key=lambda kv: kv[1])[-8:])
    record(session, action, entity, entity_id, detail, municipality_id=municipality_id)
    return True


def burst_due(action: str, entity: str, entity_id: Any, *, seconds: int = BURST_SECONDS) -> bool:
    """Whether :func:`record_burst` would record this now (always outside a request); records nothing."""
    from flask import has_request_context
    from flask import session as web_session

    if not has_request_context():
        return True
    last = (web_session.get(_BURSTS) or {}).get(_burst_key(action, entity, entity_id))
    return last is None or not int(time.time()) - last < seconds


def _burst_key(action: str, entity: str, entity_id: Any) -> str:
    return f"{action}:{entity}:{entity_id}"


def pending(session: Session) -> bool:
    """Whether events recorded in ``session`` wait for its commit."""
    return bool(session.info.get(_PENDING))


def event_hash(event: AuditEvent | Row[Any], prev_hash: str) -> str:
    """SHA-256 over the event's content and the previous event's hash (hex)."""
    content = [
        prev_hash, event.at.astimezone(UTC).isoformat(timespec="microseconds"), event.user_id,
        event.username, event.municipality_id, event.action, event.entity, event.entity_id, event.detail,
        event.address,
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _lock_head(session: Session, appended: int) -> str:
    """Lock the chain's head row (until commit) and return the newest hash; creates the head if missing."""
    connection = session.connection()
    bump = (update(AuditChain).where(AuditChain.id == 1)
            .values(events=AuditChain.events + appended).returning(AuditChain.last_hash))
    last = connection.execute(bump).scalar_one_or_none()
    if last is None:
        dialect = connection.dialect.name
        head = {"id": 1, "last_hash": GENESIS, "events": 0}
        statement: Executable
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(AuditChain).values(**head).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(AuditChain).values(**head).on_conflict_do_nothing()
        connection.execute(statement)
        last = connection.execute(bump).scalar_one()
    return last


def _append_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    previous = _lock_head(session, len(pending))
    for item in pending:
        item.prev_hash = previous
        item.hash = previous = event_hash(item, previous)
    session.connection().execute(update(AuditChain).where(AuditChain.id == 1).values(last_hash=previous))
    session.add_all(pending)


def _forget_pending(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def install(factory: sessionmaker) -> None:
    """Chain and insert recorded events when a session from ``factory`` commits; drop them on rollback."""
    sa_event.listen(factory, "before_commit", _append_pending)
    sa_event.listen(factory, "after_soft_rollback", _forget_pending)


@dataclass(frozen=True)
class Verification:
    """The result of :func:`verify`: ``ok``, how many events were checked, and the first broken link."""

    ok: bool
    events: int
    last_hash: str
    broken_event_id: int | None = None
    reason: str = ""


def verify(session: Session, batch: int = 5000) -> Verification:
    """Recompute the chain from the first event; stop at the first event that does not fit.

    Give it a session of its own: it empties the session's identity map as it goes.
    """
    previous = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.id > last_id)
                                    .order_by(AuditEvent.id).limit(batch)))
        if not rows:
            break
        for row in rows:
            count += 1
            if row.prev_hash != previous:
                return Verification(False, count, previous, row.id,
                                    "it does not carry the previous event's hash: an event before it "
                                    "was changed, removed or inserted")
            if event_hash(row, previous) != row.hash:
                return Verification(False, count, previous, row.id,
                                    "its content was changed after it was written")
            previous = row.hash
            last_id = row.id
        session.expunge_all()
    head = session.get(AuditChain, 1)
    head_hash, head_count = (head.last_hash, head.events) if head is not None else (GENESIS, 0)
    if (head_hash, head_count) != (previous, count):
        return Verification(False, count, previous, None,
                            f"the chain's head records {head_count} events ending in {head_hash[:12]}..., "
                            f"but the table holds {count} ending in {previous[:12]}...: events at the end "
                            "were removed (or the head was changed)")
    return Verification(True, count, previous)


def trail(session: Session, municipality_id: int | None, *, limit: int = 200,
          before_id: int | None = None) -> list[AuditEvent]:
    """The newest events first; ``municipality_id`` None means every municipality (system administrator)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if municipality_id is not None:
        stmt = stmt.where(AuditEvent.municipality_id == municipality_id)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return list(session.scalars(stmt))
