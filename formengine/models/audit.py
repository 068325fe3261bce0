"""The append-only audit trail: who did what to which record, when, chained by hashes.

Each event carries the hash of the event before it (``prev_hash``) and its
own hash over its content and ``prev_hash``; ``AuditChain`` holds the newest
hash and the number of events, and its single row is what concurrent writers
lock while they append (see :mod:`formengine.audit`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from formengine.models.base import Base, JSONType, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(80), default="")
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipality.id"), nullable=True, index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Where the request came from (the client's address as the application sees it), "" outside requests.
    address: Mapped[str] = mapped_column(String(45), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """The head of the hash chain: one row (id 1) with the newest event's hash and the event count."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(Integer, default=0)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_change(mapper: Any, connection: Any, target: AuditEvent) -> None:
    raise PermissionError("the audit trail is append-only")
