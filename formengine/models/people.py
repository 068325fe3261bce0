"""Municipalities and the users who work in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formengine.models.base import Base, JSONType, UTCDateTime, utcnow

ROLE_SYSADMIN = "sysadmin"
ROLE_MUNICIPALITY_ADMIN = "municipality_admin"
ROLE_TEAM_MEMBER = "team_member"
ROLES = (ROLE_SYSADMIN, ROLE_MUNICIPALITY_ADMIN, ROLE_TEAM_MEMBER)


class Municipality(Base):
    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Settings such as the tolerance window or an alternative band scheme.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    cpr_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Secret for keyed pseudonyms in exports; never shown or exported.
    pseudonym_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="municipality")


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(Text)
    # A short PIN to take the tablet back from a respondent (hand-over mode).
    pin_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    role: Mapped[str] = mapped_column(String(32))
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipality.id"), nullable=True, index=True
    )
    language: Mapped[str] = mapped_column(String(5), default="da")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Raised to end every session of the user (logout, password change, deactivation):
    # a session is valid only while it carries the current value.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    municipality: Mapped[Municipality | None] = relationship(back_populates="users")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_sysadmin(self) -> bool:
        return self.role == ROLE_SYSADMIN

    @property
    def is_admin(self) -> bool:
        return self.role in (ROLE_SYSADMIN, ROLE_MUNICIPALITY_ADMIN)
