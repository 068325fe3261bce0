"""Which instruments a municipality uses, and its measurement plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from formengine.models.base import Base, JSONType, UTCDateTime, utcnow


class InstrumentSetting(Base):
    """An instrument enabled or disabled for a municipality (disabling never deletes data)."""

    __tablename__ = "instrument_setting"
    __table_args__ = (UniqueConstraint("municipality_id", "instrument_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(26))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)


class PlanRule(Base):
    """One line of a municipality's measurement plan.

    ``respondent_role`` answers ``instrument_id`` when aged ``min_age``-``max_age``
    at the measurement date (for ``about`` = "child", the ages are the child's),
    at the wave kinds in ``waves`` (e.g. ["baseline", "progress", "closing"]).
    """

    __tablename__ = "plan_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(26))
    respondent_role: Mapped[str] = mapped_column(String(16))
    about: Mapped[str] = mapped_column(String(16), default="self")
    min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    waves: Mapped[list[str]] = mapped_column(JSONType, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
