"""Storing responses and their scores (no Flask here: usable from the web, the CLI and imports)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from formengine.alerts import raise_alerts
from formengine.definition_versions import record_definition
from formengine.instruments import Instrument, ScoreResult, ScoringContext
from formengine.models import Response, Score, utcnow


def context_key(context: ScoringContext | None) -> str:
    """A short fingerprint of what scoring saw besides the answers (norm pack and options).

    Two scorings with the same scoring version and context key give the same
    result, so rescoring can skip a response whose current score has both.
    """
    if context is None:
        context = ScoringContext()
    data = {"norms": context.norms, "options": dict(context.options)}
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def store_score(session: Session, response: Response, instrument: Instrument, result: ScoreResult,
                context: ScoringContext | None = None) -> Score:
    """Record ``result`` for ``response`` under the instrument's current scoring version.

    A new row is added and becomes the current score; earlier rows stay as
    history. Only when the current row already has this scoring version and
    context (a repeated submit) is it updated in place. The row keeps the
    settings scoring saw (``context.options``); a result whose ``error`` is set
    records that the plugin failed ("scoring failed").
    Alert flags of a submitted response are recorded as open alerts (see :mod:`formengine.alerts`).
    """
    key = context_key(context)
    current = response.current_score
    if current is not None and (current.scoring_version, current.context_key) == (
            instrument.scoring_version, key):
        score = current
    else:
        score = Score(response=response, scoring_version=instrument.scoring_version, context_key=key)
    score.instrument_version = response.instrument_version
    score.valid = result.valid
    score.scores = dict(result.scores)
    score.bands = dict(result.bands)
    score.flags = [f.to_dict() for f in result.flags]
    score.error = result.error
    score.options = dict(context.options) if context is not None else {}
    score.computed_at = utcnow()
    session.add(score)
    raise_alerts(session, response, result)
    return score


def rescore(session: Session, response: Response, instrument: Instrument,
            context: ScoringContext | None = None) -> Score:
    """Recompute a submitted response's score from its stored answers.

    A raising plugin gives a "scoring failed" score (see :meth:`Instrument.score_guarded`).
    """
    result = instrument.score_guarded(response.answers, context)
    return store_score(session, response, instrument, result, context)


def subject_of(person_id: int | None, about_person_id: int | None) -> int | None:
    """Who a response is about -- the one rule every route stores.

    A form about another person (a parent's form about a child) is about that
    person; otherwise it is a self-report, about its respondent. A response
    without a respondent (municipality forms, practice) is about nobody.
    """
    return about_person_id if about_person_id is not None else person_id


def submit_new_response(
    session: Session,
    instrument: Instrument,
    answers: Mapping[str, Any],
    *,
    municipality_id: int | None,
    entered_by: int | None,
    wording: Mapping[str, Any],
    language: str = "da",
    mode: str = "in_person",
    person_id: int | None = None,
    about_person_id: int | None = None,
    wave_id: int | None = None,
    declined: list[str] | None = None,
    context: ScoringContext | None = None,
) -> Response:
    """Validate, score and store a complete response in one go (bad answers raise, nothing stored).

    A plugin whose scoring raises does not stop the response being stored: it is kept with a
    "scoring failed" score (see :meth:`Instrument.score_guarded`).
    """
    about_person_id = subject_of(person_id, about_person_id)
    result = instrument.score_guarded(answers, context)
    response = _new_response(
        instrument, status="submitted", answers=answers, declined=declined or [],
        municipality_id=municipality_id, person_id=person_id, about_person_id=about_person_id,
        wave_id=wave_id, mode=mode, language=language, wording=wording, entered_by=entered_by,
    )
    response.submitted_at = response.created_at
    session.add(response)
    record_definition(session, instrument)
    store_score(session, response, instrument, result, context)
    return response


def _new_response(instrument: Instrument, *, status: str, answers: Mapping[str, Any],
                  declined: list[str], wording: Mapping[str, Any], **fields: Any) -> Response:
    now = utcnow()
    return Response(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        status=status,
        answers=dict(answers),
        declined=list(declined),
        wording=dict(wording),
        created_at=now,
        updated_at=now,
        version=1,
        **fields,
    )


def start_draft(
    session: Session,
    instrument: Instrument,
    *,
    municipality_id: int | None,
    entered_by: int | None,
    wording: Mapping[str, Any],
    language: str = "da",
    mode: str = "in_person",
    person_id: int | None = None,
    about_person_id: int | None = None,
    wave_id: int | None = None,
) -> Response:
    """Open a draft response, or return the open draft for the same person, subject, instrument and wave.

    Resuming the existing draft is what lets a family pick up on another
    device where they left off. Callers check consent and the measurement
    plan before calling this.
    """
    from sqlalchemy import select

    about_person_id = subject_of(person_id, about_person_id)
    if person_id is not None or about_person_id is not None or wave_id is not None:
        existing = session.scalar(
            select(Response).where(
                Response.status == "draft",
                Response.instrument_id == instrument.id,
                Response.municipality_id.is_(None) if municipality_id is None
                else Response.municipality_id == municipality_id,
                Response.person_id.is_(None) if person_id is None else Response.person_id == person_id,
                Response.about_person_id.is_(None) if about_person_id is None
                else Response.about_person_id == about_person_id,
                Response.wave_id.is_(None) if wave_id is None else Response.wave_id == wave_id,
            ).order_by(Response.id.desc())
        )
        if existing is not None:
            return existing
    response = _new_response(
        instrument, status="draft", answers={}, declined=[], wording=wording,
        municipality_id=municipality_id, person_id=person_id, about_person_id=about_person_id,
        wave_id=wave_id, mode=mode, language=language, entered_by=entered_by,
    )
    session.add(response)
    record_definition(session, instrument)
    session.flush()
    return response
