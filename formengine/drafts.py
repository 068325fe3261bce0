"""Draft responses: save one answer at a time, decline, resume, submit once.

No Flask here. Every write names the version of the draft it was based on and
is applied with one compare-and-set UPDATE, so two devices working on the same
draft can never overwrite each other silently: the stale write is refused with
:class:`DraftConflict`. Every saved value is checked by the answer codec
(:mod:`formengine.instruments.codec`), so a tampered value is refused and
nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from formengine import audit
from formengine.db import execute_plain
from formengine.instruments import (
    AnswerError,
    AnswerRefused,
    Definition,
    Instrument,
    Problem,
    ScoringContext,
    codec_for,
)
from formengine.models import Response, utcnow
from formengine.responses import store_score
from formengine.submission import check_submission, has_answer, hidden_answered, missing_required, shown_items


class DraftError(ValueError):
    """A write to a draft was refused; nothing was changed."""


class DraftConflict(DraftError):
    """The draft changed since the version the write was based on (another device, another tab)."""

    def __init__(self, expected: int, current: int):
        self.expected = expected
        self.current = current
        super().__init__(f"the draft is at version {current}, the change was based on version {expected}")


class DraftClosed(DraftError):
    """The response is already submitted; answers can no longer change."""


class DraftIncomplete(DraftError):
    """Questions that must be answered have neither an answer nor a decline; ``missing`` lists them."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__("not answered: " + ", ".join(missing))


class DraftAnswerError(DraftError, AnswerRefused):
    """The answer does not fit the item (unknown item, value out of range, tampered code).

    An :class:`~formengine.instruments.codec.AnswerRefused`: ``refusals`` names each item and reason.
    """


@dataclass
class SubmitOutcome:
    """What :func:`submit_draft` did. ``already`` is True when the response was submitted before."""

    response: Response
    already: bool = False
    cleared: list[str] = field(default_factory=list)


def is_answered(response: Response, item_id: str) -> bool:
    """An item counts as answered when it has a value or was declined on purpose."""
    return has_answer(response.answers or {}, response.declined or [], item_id)


def first_unanswered(definition: Definition, response: Response) -> str | None:
    """The first shown item with neither an answer nor a decline, or None when all are done."""
    for item in shown_items(definition, response.answers):
        if not is_answered(response, item["id"]):
            return item["id"]
    return None


_RESPONSE_TABLE = cast(Table, Response.__table__)
# The compare-and-set write, built once: the columns it sets are the parameters of each execution.
_COMPARE_AND_SET = update(_RESPONSE_TABLE).where(
    _RESPONSE_TABLE.c.id == bindparam("where_id"),
    _RESPONSE_TABLE.c.version == bindparam("where_version"),
    _RESPONSE_TABLE.c.status == "draft",
)


def _write(session: Session, response: Response, expected_version: int,
           answers: dict[str, Any], declined: list[str], *, alone: bool = False, **extra: Any) -> int:
    """Compare-and-set the draft's answers; returns the new version or raises DraftConflict/DraftClosed.

    ``alone``: the caller writes nothing else before it commits (see :func:`save_answers`).
    """
    if response.status != "draft":
        raise DraftClosed("this response is already submitted")
    if expected_version != response.version:
        raise DraftConflict(expected_version, response.version)
    now = utcnow()
    new_version = expected_version + 1
    values = {"answers": answers, "declined": declined, "version": new_version, "updated_at": now, **extra}
    audited = extra.get("status") != "submitted"  # a submit is recorded by its caller, always
    # The write may be a transaction of its own only when no audit event is to be committed with it:
    # none waiting in the session, and this save within a burst already recorded (audit.record_burst).
    alone = (alone and audited and not audit.pending(session)
             and not audit.burst_due("change", "response", response.uuid))
    # A plain UPDATE of the table (not the ORM's bulk update, which costs a third of the save's
    # database work in Python), compiled once and sent to the driver as it is.
    rowcount = execute_plain(session, _COMPARE_AND_SET,
                             {**values, "where_id": response.id, "where_version": expected_version},
                             alone=alone)
    if rowcount != 1:
        # Another request won the race between our read and our write.
        session.rollback()
        session.refresh(response)
        if response.status != "draft":
            raise DraftClosed("this response is already submitted")
        raise DraftConflict(expected_version, response.version)
    for key, value in values.items():
        set_committed_value(response, key, value)
    if audited and not alone:  # alone: the burst's event is recorded already
        # The first save in a session, then one event per burst of saves (see audit.record_burst).
        audit.record_burst(session, "change", "response", response.uuid, {"version": new_version},
                           municipality_id=response.municipality_id)
    return new_version


def already_applied(response: Response, save_key: str | None) -> bool:
    """Whether the keyed save ``save_key`` is the last one applied to ``response`` (a resend).

    A device sends its keyed saves one at a time and in order, so a save whose
    reply was lost is resent before any later one: it is the last applied key.
    """
    return save_key is not None and response.last_save_key == save_key


def save_answers(session: Session, response: Response, definition: Definition,
                 changes: Mapping[str, Any], expected_version: int, *, save_key: str | None = None,
                 alone: bool = False) -> int:
    """Set (or, with value None, clear) the answers in ``changes``; returns the new version.

    ``save_key`` (the device's idempotency key for this save) is stored with the
    write; see :func:`already_applied`.

    ``alone=True`` promises that the caller writes nothing else and commits
    right after (the stepper's save): the write may then be committed by
    itself as it is made (:func:`formengine.db.execute_plain`), unless an
    audit event is to be committed with it. Either way the answers are stored
    durably once the caller's commit returns.

    Answering an item removes it from the declined list. Raises
    :class:`DraftAnswerError` for an unknown item or a value that does not fit,
    :class:`DraftConflict` when ``expected_version`` is stale and
    :class:`DraftClosed` after submission; in every case nothing changes.
    The caller commits.
    """
    try:
        checked = codec_for(definition).read_json(
            {k: v for k, v in changes.items() if not (v is None or v == [])})
    except AnswerRefused as exc:
        raise DraftAnswerError(exc.refusals) from None
    unknown = [k for k in changes if k not in definition.items_by_id]
    if unknown:
        raise DraftAnswerError([Problem(k[:60], "unknown_item") for k in sorted(unknown)])
    answers = dict(response.answers or {})
    for item_id in changes:
        if item_id in checked:
            answers[item_id] = checked[item_id]
        else:
            answers.pop(item_id, None)
    declined = [d for d in (response.declined or []) if d not in changes or changes[d] is None]
    extra: dict[str, Any] = {"last_save_key": save_key} if save_key is not None else {}
    return _write(session, response, expected_version, answers, declined, alone=alone, **extra)


def decline_item(session: Session, response: Response, definition: Definition,
                 item_id: str, expected_version: int, *, save_key: str | None = None) -> int:
    """Mark ``item_id`` as "don't want to answer" (removing any answer); returns the new version."""
    item = definition.items_by_id.get(item_id)
    if item is None:
        raise DraftAnswerError([Problem(item_id[:60], "unknown_item")])
    if not definition.allows_decline(item):
        raise DraftAnswerError([Problem(item_id, "cannot_decline")])
    answers = {k: v for k, v in (response.answers or {}).items() if k != item_id}
    declined = [d for d in (response.declined or []) if d != item_id] + [item_id]
    extra: dict[str, Any] = {"last_save_key": save_key} if save_key is not None else {}
    return _write(session, response, expected_version, answers, declined, **extra)


def set_language(session: Session, response: Response, lang: str, expected_version: int) -> int:
    """Switch the language the respondent answers in; returns the new version."""
    return _write(session, response, expected_version, dict(response.answers or {}),
                  list(response.declined or []), language=lang)


def submit_draft(session: Session, response: Response, instrument: Instrument, expected_version: int,
                 *, context: ScoringContext | None = None,
                 wording: Mapping[str, Any] | None = None) -> SubmitOutcome:
    """Score and submit a draft exactly once.

    A response that is already submitted is returned unchanged with
    ``already=True`` (a double tap or a resent form gives one submission).
    Answers to items whose display condition no longer holds are removed, and
    listed in ``cleared`` so the caller can say so; the review screen shows
    them before the respondent submits. Declines of hidden items are dropped
    too. Raises :class:`AnswerError` when the answers fail the full answer
    schema, :class:`DraftIncomplete` when a question that must be answered
    has neither an answer nor a decline, and :class:`DraftConflict` when the
    draft changed since ``expected_version``. The caller commits.
    """
    if response.status == "submitted":
        return SubmitOutcome(response, already=True)
    if expected_version != response.version:
        raise DraftConflict(expected_version, response.version)
    # The submit rules every route shares (formengine.submission).
    checked = check_submission(instrument.definition, response.answers or {}, response.declined or [])
    if checked.missing:
        raise DraftIncomplete(checked.missing)
    answers, declined, cleared = checked.answers, checked.declined, checked.cleared
    # Raises AnswerError, nothing written yet; a raising plugin gives a "scoring failed" result.
    result = instrument.score_guarded(answers, context)
    extra: dict[str, Any] = {"status": "submitted", "submitted_at": utcnow()}
    if wording is not None:
        extra["wording"] = dict(wording)
    try:
        _write(session, response, expected_version, answers, declined, **extra)
    except DraftClosed:
        return SubmitOutcome(response, already=True)
    store_score(session, response, instrument, result, context)
    return SubmitOutcome(response, cleared=cleared)


__all__ = [
    "AnswerError",
    "DraftAnswerError",
    "DraftClosed",
    "DraftConflict",
    "DraftError",
    "DraftIncomplete",
    "SubmitOutcome",
    "already_applied",
    "decline_item",
    "first_unanswered",
    "hidden_answered",
    "is_answered",
    "missing_required",
    "save_answers",
    "set_language",
    "shown_items",
    "submit_draft",
]
