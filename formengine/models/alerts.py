"""Alerts: flags of level ``alert`` on a submitted response, open until a team member acknowledges them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formengine.models.base import Base, UTCDateTime, utcnow
from formengine.models.cases import Family, Person
from formengine.models.responses import Response


class Alert(Base):
    """One alert flag of one response, raised when the response was scored.

    Keyed by response and flag code, so rescoring the same answers never
    raises an acknowledged alert again. ``person_id`` is the person the
    response is about (the child for a parent's form) and ``family_id`` their
    family, so the family page, the due list and the timeline read open
    alerts with one indexed filter.
    """

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("response_id", "code"),
        Index("ix_alert_open", "municipality_id", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id"), index=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), nullable=True)
    family_id: Mapped[int | None] = mapped_column(ForeignKey("family.id"), nullable=True, index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True, index=True)
    instrument_id: Mapped[str] = mapped_column(String(26))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the formengine_alert hook was called for it (once per alert).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)

    response: Mapped[Response] = relationship()
    # Who and which family the alert is about, for lists that span families (the due list).
    family: Mapped[Family | None] = relationship()
    person: Mapped[Person | None] = relationship()
