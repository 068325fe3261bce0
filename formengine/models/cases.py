"""Families, the persons in them, their consent, and measurement waves."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formengine.models.base import Base, UTCDateTime, utcnow

PERSON_ROLES = ("child", "youth", "parent", "other")
SEXES = ("female", "male", "not_stated")
WAVE_KINDS = ("baseline", "progress", "closing")


class Family(Base):
    __tablename__ = "family"
    __table_args__ = (UniqueConstraint("municipality_id", "case_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    case_ref: Mapped[str] = mapped_column(String(64))
    enrolled_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    persons: Mapped[list[Person]] = relationship(back_populates="family", order_by="Person.id")
    waves: Mapped[list[Wave]] = relationship(back_populates="family", order_by="Wave.number")


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id"), index=True)
    # Denormalised from the family so every query can be scoped in one filter.
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    # What the team calls the person (first name or initials); personal data.
    name: Mapped[str] = mapped_column(String(120), default="")
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str] = mapped_column(String(16), default="not_stated")
    # Only stored when the municipality turns it on; never exported or logged.
    cpr: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    family: Mapped[Family] = relationship(back_populates="persons")
    consents: Mapped[list[Consent]] = relationship(back_populates="person", order_by="Consent.id")


class Consent(Base):
    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    given_by: Mapped[str] = mapped_column(String(120))
    given_on: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(Text, default="")
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="consents")


class Wave(Base):
    """A measurement round: baseline (1), progress (2..n) or closing.

    Family waves have ``family_id``; municipality-level rounds (forms answered
    for the municipality itself) have ``family_id`` NULL.
    """

    __tablename__ = "wave"
    __table_args__ = (UniqueConstraint("municipality_id", "family_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    family_id: Mapped[int | None] = mapped_column(ForeignKey("family.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    family: Mapped[Family | None] = relationship(back_populates="waves")
