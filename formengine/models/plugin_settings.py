"""A municipality's values for the settings plugins declare on their instruments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from formengine.models.base import Base, JSONType, UTCDateTime, utcnow


class PluginSettingValue(Base):
    """One setting of one instrument for one municipality; unset settings use the plugin's default."""

    __tablename__ = "plugin_setting"
    __table_args__ = (UniqueConstraint("municipality_id", "instrument_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(26))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSONType)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
