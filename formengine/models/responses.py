"""Responses (answer sets, draft or submitted) and the scores computed from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from formengine.models.base import Base, JSONType, UTCDateTime, utcnow

MODES = ("in_person", "phone", "paper")
STATUSES = ("draft", "submitted")


def new_uuid() -> str:
    return str(uuid.uuid4())


class Response(Base):
    __tablename__ = "response"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Public, unguessable id used in URLs.
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    # NULL only for practice responses made outside any municipality.
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipality.id"), nullable=True, index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), nullable=True, index=True)
    # The child a parent or teacher answers about, when not the respondent.
    about_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id"), nullable=True, index=True
    )
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("wave.id"), nullable=True, index=True)
    instrument_id: Mapped[str] = mapped_column(String(26), index=True)
    instrument_version: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Items the respondent chose not to answer (distinct from unanswered).
    declined: Mapped[list[str]] = mapped_column(JSONType, default=list)
    mode: Mapped[str] = mapped_column(String(16), default="in_person")
    language: Mapped[str] = mapped_column(String(5), default="da")
    # Which wording the form showed: {"kind": "project_labels"} or a pack's source + sha256.
    wording: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Optimistic concurrency: every write says which version it was based on.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The idempotency key of the last keyed save applied to this draft. A tablet's queue sends its
    # saves one at a time, in order, until each is acknowledged, so a save resent because its reply
    # was lost carries the last applied key and is acknowledged without being applied again.
    last_save_key: Mapped[str | None] = mapped_column(String(64), nullable=True)

    scores: Mapped[list[Score]] = relationship(
        back_populates="response", order_by="Score.id", cascade="all, delete-orphan"
    )

    @property
    def current_score(self) -> Score | None:
        """The score every reader shows (see :mod:`formengine.current_score`)."""
        from formengine.current_score import current_of

        return current_of(self.scores)


class Score(Base):
    """One scoring of a response; recomputable from the answers.

    Rows are added, never replaced, when a response is rescored, so the
    history of every number stays; the newest row is the current score.
    """

    __tablename__ = "score"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id"), index=True)
    instrument_version: Mapped[str] = mapped_column(String(16))
    scoring_version: Mapped[str] = mapped_column(String(16))
    valid: Mapped[bool] = mapped_column(Boolean)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    bands: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Each flag is {"code", "message", "level"}; level info | warning | alert (older rows: no level = info).
    flags: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    # Set when the plugin's scoring raised ("plugin 'x' raised ZeroDivisionError"): no scores,
    # the answers are kept and a rescore brings the response back once the plugin is fixed.
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The municipality's plugin settings scoring saw (ScoringContext.options).
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What else the scoring saw (norm pack, options), as a short fingerprint: rescoring
    # skips a response whose current score already has the current version and context.
    context_key: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The rescoring run that added this row (None: scored when submitted or imported).
    rescore_run_id: Mapped[int | None] = mapped_column(ForeignKey("rescore_run.id"), nullable=True)

    response: Mapped[Response] = relationship(back_populates="scores")
