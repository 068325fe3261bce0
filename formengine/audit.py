"""The audit trail: record who viewed, created, changed, submitted, exported or deleted personal data.

Call :func:`record` next to the action, in the same database session, so the
event is committed (or rolled back) together with the change it describes.
The table is append-only: the ORM refuses updates and deletes, and on
PostgreSQL a trigger refuses them for raw SQL too.

``detail`` is stored in the database only; it must not carry free text a
family typed (answers, names), only ids, instrument ids, counts and the like.
Nothing here writes to the application log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine.models import AuditEvent, User, utcnow

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
        username=(username if username is not None else getattr(actor, "username", "")) or "",
        municipality_id=(municipality_id if municipality_id is not None
                         else getattr(actor, "municipality_id", None)),
        action=str(action)[:32],
        entity=str(entity)[:32],
        entity_id="" if entity_id is None else str(entity_id)[:64],
        detail=dict(detail or {}),
    )
    session.add(event)
    return event


def trail(session: Session, municipality_id: int | None, *, limit: int = 200,
          before_id: int | None = None) -> list[AuditEvent]:
    """The newest events first; ``municipality_id`` None means every municipality (system administrator)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if municipality_id is not None:
        stmt = stmt.where(AuditEvent.municipality_id == municipality_id)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return list(session.scalars(stmt))
