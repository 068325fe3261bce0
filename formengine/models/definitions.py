"""A copy of every definition version that stored responses were answered with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from formengine.models.base import Base, JSONType, UTCDateTime, utcnow


class DefinitionVersion(Base):
    """The definition document of one instrument version, kept when a response first used it.

    Old responses are shown, exported and compared against it even after the
    plugin moved on to a new version (or stopped shipping the old one).
    """

    __tablename__ = "definition_version"
    __table_args__ = (UniqueConstraint("instrument_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(26))
    version: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
