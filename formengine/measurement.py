"""Families over time: their waves, what is due for whom, and whether a measurement may be taken.

The pure rules live in :mod:`formengine.plan`; this module applies them to
stored families, persons, consent and responses. No Flask here except
Flask-Babel's ``gettext`` for messages (a no-op translation outside a request),
so the CLI, the demo loader and the web share one set of rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from formengine import clock
from formengine.catalogue import available_ids, municipality_start, plan_rules, schedule_for
from formengine.models import Consent, Family, Municipality, Person, Response, Wave
from formengine.plan import (
    STATUS_DONE,
    STATUS_OVERDUE,
    STATUS_UPCOMING,
    PersonInfo,
    PlanItem,
    Schedule,
    WaveSlot,
    family_waves,
    items_for_family,
    items_for_municipality,
    municipality_waves,
)
from formengine.plugins import PluginRegistry

STATUS_MISSED = "missed"


class MeasurementRefused(Exception):
    """A measurement may not be taken; ``str(exc)`` is a message for the user."""


class IntegrityRefused(Exception):
    """A change would make the case records inconsistent; nothing was changed."""


# -- consent -------------------------------------------------------------------

def has_consent(person: Person, on: date) -> bool:
    """True when a consent was given on or before ``on`` and not withdrawn by then."""
    return any(c.given_on <= on and (c.withdrawn_on is None or c.withdrawn_on > on)
               for c in person.consents)


def active_consent(person: Person, on: date) -> Consent | None:
    for consent in reversed(person.consents):
        if consent.given_on <= on and (consent.withdrawn_on is None or consent.withdrawn_on > on):
            return consent
    return None


# -- can this measurement be taken? ------------------------------------------------

def check_can_measure(session: Session, user: Any, person: Person | None, wave: Wave | None, *,
                      about_person: Person | None = None, on: date | None = None) -> None:
    """Raise :class:`MeasurementRefused` unless ``user`` may measure ``person`` at ``wave`` on ``on``.

    Checks, in order: the records belong to the user's municipality (system
    administrators may act anywhere), the wave belongs to the person's family,
    the date lies in the family's open period (the closing wave may be
    answered up to the end of its tolerance window after closing), the person
    is not closed, and every person measured — the respondent and the person
    the answers are about — has recorded, unwithdrawn consent.
    ``person`` None means a municipality-level form (answered for the municipality).
    """
    on = on or clock.today()
    if wave is None:
        raise MeasurementRefused(_("A measurement belongs to a measurement round; start it from the plan."))
    municipality_id = wave.municipality_id
    if not getattr(user, "is_sysadmin", False) and getattr(user, "municipality_id", None) != municipality_id:
        raise MeasurementRefused(_("Not found."))
    if person is None:
        if wave.family_id is not None:
            raise MeasurementRefused(_("This form is answered for a person, not for the municipality."))
        if about_person is not None:
            raise MeasurementRefused(_("A municipality form is not about a person."))
        return
    if person.municipality_id != municipality_id or wave.family_id != person.family_id:
        raise MeasurementRefused(_("This measurement round belongs to another family."))
    family = person.family
    if on < family.enrolled_on:
        raise MeasurementRefused(_("The family is not enrolled yet on %(day)s.", day=on.isoformat()))
    if family.status == "closed" or family.closed_on is not None:
        if wave.kind != "closing":
            raise MeasurementRefused(_("The family is closed; only the closing measurement can be taken."))
        municipality = session.get_one(Municipality, municipality_id)
        last_day = schedule_for(municipality).window(wave.due_on)[1]
        if on > last_day:
            raise MeasurementRefused(_("The closing measurement was due by %(day)s; the family is closed.",
                                       day=last_day.isoformat()))
    elif wave.kind == "closing":
        raise MeasurementRefused(_("The closing measurement is taken when the family is closed."))
    subjects = [person]
    if about_person is not None and about_person.id != person.id:
        subjects.append(about_person)
    for subject in subjects:
        if subject.family_id != person.family_id:
            raise MeasurementRefused(_("Both persons must belong to the same family."))
        closed_with_family = wave.kind == "closing" and subject.closed_on is not None \
            and subject.closed_on >= wave.due_on
        if subject.closed_on is not None and subject.closed_on < on and not closed_with_family:
            raise MeasurementRefused(_("%(person)s was closed on %(day)s and cannot be measured.",
                                       person=_label(subject), day=subject.closed_on.isoformat()))
        if not has_consent(subject, on):
            raise MeasurementRefused(_("No consent is recorded for %(person)s; record consent first.",
                                       person=_label(subject)))


def _label(person: Person) -> str:
    return person.name or f"#{person.id}"


# -- waves ---------------------------------------------------------------------

def _sync(session: Session, existing: list[Wave], slots: list[WaveSlot], municipality_id: int,
          family_id: int | None) -> list[Wave]:
    by_key = {(w.kind, w.due_on): w for w in existing}
    missing = [slot for slot in slots if (slot.kind, slot.due_on) not in by_key]
    if not missing:
        return sorted(existing, key=lambda w: w.number)
    waves = list(existing)
    try:
        # A savepoint, so that a parallel request creating the same wave first only costs a re-read.
        with session.begin_nested():
            for slot in missing:
                number = max((w.number for w in waves), default=0) + 1
                wave = Wave(municipality_id=municipality_id, family_id=family_id, kind=slot.kind,
                            number=number, due_on=slot.due_on)
                session.add(wave)
                waves.append(wave)
    except IntegrityError:
        stmt = select(Wave).where(Wave.municipality_id == municipality_id)
        stmt = stmt.where(Wave.family_id.is_(None) if family_id is None else Wave.family_id == family_id)
        waves = list(session.scalars(stmt))
    return sorted(waves, key=lambda w: w.number)


def sync_family_waves(session: Session, family: Family, today: date, schedule: Schedule) -> list[Wave]:
    """Store every wave the family should have by ``today`` (and the next one); return them in order."""
    existing = list(session.scalars(select(Wave).where(Wave.family_id == family.id)))
    return _sync(session, existing, family_waves(family.enrolled_on, today, schedule, family.closed_on),
                 family.municipality_id, family.id)


def sync_municipality_waves(session: Session, municipality: Municipality, today: date) -> list[Wave]:
    """Store the municipality's own rounds up to ``today`` and the next one."""
    existing = list(session.scalars(select(Wave).where(Wave.municipality_id == municipality.id,
                                                       Wave.family_id.is_(None))))
    slots = municipality_waves(municipality_start(municipality), today, schedule_for(municipality))
    return _sync(session, existing, slots, municipality.id, None)


# -- what is due ---------------------------------------------------------------

@dataclass
class Entry:
    """One measurement on the plan (or already taken) at one wave."""

    instrument_id: str
    person: Person | None
    about: Person | None
    filled_by: str
    status: str
    response: Response | None = None
    draft: Response | None = None
    planned: bool = True

    @property
    def about_other(self) -> bool:
        return self.about is not None and self.person is not None and self.about.id != self.person.id


@dataclass
class WaveView:
    wave: Wave
    status: str
    window: tuple[date, date]
    measured_on: date
    entries: list[Entry] = field(default_factory=list)

    @property
    def open_entries(self) -> list[Entry]:
        return [e for e in self.entries if e.status != STATUS_DONE]


def person_info(person: Person) -> PersonInfo:
    return PersonInfo(person.id, person.role, person.birth_date, person.closed_on)


def _responses_by_wave(session: Session, wave_ids: list[int]) -> dict[int, list[Response]]:
    out: dict[int, list[Response]] = {}
    if not wave_ids:
        return out
    for response in session.scalars(select(Response).where(Response.wave_id.in_(wave_ids))
                                    .order_by(Response.id)):
        if response.wave_id is not None:
            out.setdefault(response.wave_id, []).append(response)
    return out


def _entries(items: list[PlanItem], responses: list[Response], persons: dict[int | None, Person],
             wave_status: str) -> list[Entry]:
    entries = []
    used: set[int] = set()
    for item in items:
        key = (item.instrument_id, item.person_id, item.about_id)
        matching = [r for r in responses if (r.instrument_id, r.person_id, r.about_person_id) == key]
        done = next((r for r in matching if r.status == "submitted"), None)
        draft = next((r for r in matching if r.status == "draft"), None)
        used.update(r.id for r in matching)
        entries.append(Entry(
            item.instrument_id, persons.get(item.person_id), persons.get(item.about_id), item.filled_by,
            STATUS_DONE if done else wave_status, response=done, draft=draft))
    # Submitted answers no longer on the plan (instrument disabled, person's age changed) stay visible.
    for response in responses:
        if response.id not in used and response.status == "submitted":
            entries.append(Entry(response.instrument_id, persons.get(response.person_id),
                                 persons.get(response.about_person_id), "respondent", STATUS_DONE,
                                 response=response, planned=False))
    return entries


def family_plan(session: Session, registry: PluginRegistry, family: Family,
                today: date | None = None) -> list[WaveView]:
    """Every wave of the family with its measurements and their status (done/due/overdue/upcoming/missed)."""
    today = today or clock.today()
    municipality = session.get_one(Municipality, family.municipality_id)
    schedule = schedule_for(municipality)
    waves = sync_family_waves(session, family, today, schedule)
    rules = plan_rules(session, registry, municipality)
    available = available_ids(session, registry, municipality.id)
    persons: dict[int | None, Person] = {p.id: p for p in family.persons}  # None: nobody
    infos = [person_info(p) for p in family.persons]
    responses = _responses_by_wave(session, [w.id for w in waves])
    statuses = [schedule.status(w.due_on, today) for w in waves]
    views = []
    for index, wave in enumerate(waves):
        status = statuses[index]
        later_open = any(s != STATUS_UPCOMING for s in statuses[index + 1:])
        if status != STATUS_UPCOMING and later_open and wave.kind != "closing":
            status = STATUS_MISSED  # a later wave's window has opened: this one can no longer be compared
        if wave.kind == "closing" and status == STATUS_OVERDUE:
            status = STATUS_MISSED  # the family is closed: nothing can be measured after the window
        measured_on = schedule.measurement_date(wave.due_on, today)
        items = items_for_family(rules, infos, wave.kind, measured_on, available)
        entries = _entries(items, responses.get(wave.id, []), persons, status)
        views.append(WaveView(wave, _overall(status, entries), schedule.window(wave.due_on),
                              measured_on, entries))
    return views


def municipality_plan(session: Session, registry: PluginRegistry, municipality: Municipality,
                      today: date | None = None) -> list[WaveView]:
    """The municipality's own rounds (forms answered for the municipality)."""
    today = today or clock.today()
    schedule = schedule_for(municipality)
    rules = plan_rules(session, registry, municipality)
    available = available_ids(session, registry, municipality.id)
    if not items_for_municipality(rules, "progress", available) and \
            not items_for_municipality(rules, "baseline", available):
        return []
    waves = sync_municipality_waves(session, municipality, today)
    responses = _responses_by_wave(session, [w.id for w in waves])
    statuses = [schedule.status(w.due_on, today) for w in waves]
    views = []
    for index, wave in enumerate(waves):
        status = statuses[index]
        if status != STATUS_UPCOMING and any(s != STATUS_UPCOMING for s in statuses[index + 1:]):
            status = STATUS_MISSED
        items = items_for_municipality(rules, wave.kind, available)
        entries = _entries(items, responses.get(wave.id, []), {}, status)
        views.append(WaveView(wave, _overall(status, entries), schedule.window(wave.due_on),
                              schedule.measurement_date(wave.due_on, today), entries))
    return views


def _overall(status: str, entries: list[Entry]) -> str:
    if entries and all(e.status == STATUS_DONE for e in entries):
        return STATUS_DONE
    return status


def next_due(views: list[WaveView], after: date | None = None) -> date | None:
    """The due date of the first wave not yet done (after ``after`` when given)."""
    for view in views:
        if view.status in (STATUS_DONE, STATUS_MISSED):
            continue
        if after is None or view.wave.due_on > after:
            return view.wave.due_on
    return None


# -- closing ------------------------------------------------------------------

def close_family(session: Session, family: Family, closed_on: date, *, close_persons: bool,
                 today: date | None = None) -> Wave:
    """Close a family (and, in the same action, its open persons); create its closing wave.

    Refused, with nothing changed, when the family is already closed, the date
    is before enrolment or in the future, the family has no child or young
    person (a closed family without a child cannot be evaluated), or it has
    open persons and ``close_persons`` is False.
    """
    today = today or clock.today()
    if family.status == "closed":
        raise IntegrityRefused(_("The family is already closed."))
    if closed_on < family.enrolled_on:
        raise IntegrityRefused(_("The closing date is before the enrolment date."))
    if closed_on > today:
        raise IntegrityRefused(_("The closing date cannot be in the future."))
    if not any(p.role in ("child", "youth") for p in family.persons):
        raise IntegrityRefused(_("A family without a child or young person cannot be closed; "
                                 "register the child first."))
    open_persons = [p for p in family.persons if p.status == "open"]
    if open_persons and not close_persons:
        raise IntegrityRefused(_("The family has %(count)d open person(s); they must be closed in the "
                                 "same action.", count=len(open_persons)))
    for person in open_persons:
        person.status = "closed"
        person.closed_on = closed_on
    family.status = "closed"
    family.closed_on = closed_on
    # Progress rounds that would fall on or after closing and hold no answers are dropped.
    stale = [w.id for w in session.scalars(select(Wave).where(
        Wave.family_id == family.id, Wave.kind == "progress", Wave.due_on >= closed_on))]
    if stale:
        answered = set(session.scalars(select(Response.wave_id).where(Response.wave_id.in_(stale))))
        drop = [w for w in stale if w not in answered]
        if drop:
            session.execute(delete(Wave).where(Wave.id.in_(drop)))
    session.flush()
    municipality = session.get_one(Municipality, family.municipality_id)
    waves = sync_family_waves(session, family, max(today, closed_on), schedule_for(municipality))
    return next(w for w in waves if w.kind == "closing")
