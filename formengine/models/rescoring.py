"""A rescoring run: recomputing stored scores under the current scoring rules, as a resumable job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from formengine.models.base import Base, JSONType, UTCDateTime, utcnow

RUN_STATUSES = ("queued", "running", "done", "failed")
ACTIVE = "active"


class RescoreRun(Base):
    """One preview (``dry_run``) or rescoring of the submitted responses of some instruments.

    ``lock`` is ``"active"`` while the run is queued or running and NULL after;
    its unique constraint lets only one run be active at a time on both
    databases (NULLs never collide). ``cursor`` is the last response id whose
    result is committed, written in the same transaction as that batch's score
    rows, so an interrupted run resumes after it without duplicate rows.
    """

    __tablename__ = "rescore_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instruments: Mapped[list[str]] = mapped_column(JSONType, default=list)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), nullable=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    lock: Mapped[str | None] = mapped_column(String(8), nullable=True, unique=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    # what was asked for, e.g. "norm pack installed" or "command line"
    reason: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    # counts so far: see formengine.rescoring.Summary
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
