"""Alerts: flags of level ``alert`` that a team member must see and acknowledge (no Flask here).

Scoring a submitted response records one :class:`~formengine.models.Alert`
per alert flag (:func:`raise_alerts`, called by ``store_score``). The result
page, the family page, the due list and the person timeline show the open
ones until a team member acknowledges each with a short note
(:func:`acknowledge`, audited). :func:`notify` passes each new alert once to
the ``formengine_alert`` hook; the core itself sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from formengine import audit
from formengine.instruments import ScoreResult
from formengine.models import Alert, Municipality, Person, Response, utcnow

NOTE_MAX = 500


class AlertError(ValueError):
    """An acknowledgement was refused (nothing changed); the message says why."""


@dataclass(frozen=True)
class AlertNotice:
    """What the ``formengine_alert`` hook receives: no answers, no names, no birth dates.

    ``response_uuid`` identifies the response for someone who may log in and
    look; ``municipality`` is the municipality's name.
    """

    code: str
    message: str
    instrument_id: str
    response_uuid: str
    municipality: str | None
    raised_at: datetime


def raise_alerts(session: Session, response: Response, result: ScoreResult) -> list[Alert]:
    """Record the alert flags of ``result`` for a submitted ``response`` (each code once per response)."""
    flags = result.alerts()
    if not flags or response.status != "submitted":
        return []
    session.flush()  # the response needs its id
    known = set(session.scalars(select(Alert.code).where(Alert.response_id == response.id)))
    subject_id = response.about_person_id or response.person_id
    subject = session.get(Person, subject_id) if subject_id else None
    created = []
    for flag in flags:
        if flag.code in known:
            continue
        alert = Alert(
            response_id=response.id, municipality_id=response.municipality_id,
            family_id=subject.family_id if subject else None, person_id=subject_id,
            instrument_id=response.instrument_id, code=flag.code, message=flag.message[:NOTE_MAX],
            raised_at=utcnow(),
        )
        session.add(alert)
        created.append(alert)
    return created


def open_alerts(session: Session, municipality_id: int | None, *, family_id: int | None = None,
                person_id: int | None = None, response_id: int | None = None) -> list[Alert]:
    """Open alerts of one municipality, newest first; optionally of one family, person or response."""
    stmt = select(Alert).where(Alert.municipality_id == municipality_id, Alert.acknowledged_at.is_(None))
    if family_id is not None:
        stmt = stmt.where(Alert.family_id == family_id)
    if person_id is not None:
        stmt = stmt.where(Alert.person_id == person_id)
    if response_id is not None:
        stmt = stmt.where(Alert.response_id == response_id)
    # The lists show each alert's response link, family and person: loaded with the alerts, not one by one.
    stmt = stmt.options(selectinload(Alert.response), selectinload(Alert.family), selectinload(Alert.person))
    return list(session.scalars(stmt.order_by(Alert.raised_at.desc(), Alert.id.desc())))


def acknowledge(session: Session, alert: Alert, note: str, *, user: Any) -> Alert:
    """Mark ``alert`` as seen and followed up, with a short note; audited. The caller commits."""
    note = (note or "").strip()
    if not note:
        raise AlertError("write a short note on what was done")
    if len(note) > NOTE_MAX:
        raise AlertError(f"the note is longer than {NOTE_MAX} characters")
    if alert.acknowledged_at is not None:
        raise AlertError("the alert was already acknowledged")
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = user.id
    alert.note = note
    # The note stays on the alert; the audit trail records who acknowledged what, not the text.
    audit.record(session, "update", "alert", alert.id,
                 {"code": alert.code, "instrument": alert.instrument_id, "acknowledged": True},
                 user=user, municipality_id=alert.municipality_id)
    return alert


def notify(session: Session, registry: Any, response: Response | None = None,
           response_ids: Iterable[int] | None = None) -> int:
    """Call ``formengine_alert`` once for each alert of ``response`` not yet passed on; returns how many.

    With ``response_ids``, the alerts of those responses (what a rescoring
    batch raised); with neither, every alert not yet passed on (after an import).
    Call it after the responses are stored (views and commands do, then commit).
    Each plugin's implementation is guarded: one that raises is logged with its
    name and does not stop the others, and the alert is still shown in the app.
    """
    stmt = (select(Alert, Response.uuid).join(Response, Response.id == Alert.response_id)
            .where(Alert.notified_at.is_(None)).order_by(Alert.id))
    if response is not None:
        stmt = stmt.where(Alert.response_id == response.id)
    if response_ids is not None:
        stmt = stmt.where(Alert.response_id.in_(list(response_ids)))
    pending = session.execute(stmt).all()
    if not pending:
        return 0
    places = {a.municipality_id for a, _ in pending if a.municipality_id is not None}
    names = dict(session.execute(select(Municipality.id, Municipality.name)
                                 .where(Municipality.id.in_(places))).all()) if places else {}
    for alert, uuid in pending:
        notice = AlertNotice(code=alert.code, message=alert.message, instrument_id=alert.instrument_id,
                             response_uuid=uuid, municipality=names.get(alert.municipality_id or 0),
                             raised_at=alert.raised_at)
        registry.call_guarded("formengine_alert", alert=notice, instrument=registry.get(alert.instrument_id))
    passed_on = [alert.id for alert, _ in pending]
    session.execute(update(Alert).where(Alert.id.in_(passed_on)).values(notified_at=utcnow()))
    return len(pending)
