"""The measurement plan as pure rules: dates, ages at the measurement date, waves and tolerance windows.

No Flask and no database here, so every rule can be tested on its own. The
web and demo layers turn database rows into the small value types below.

The schedule (programme default):
- wave 1, ``baseline``, is due on the enrolment date (background forms and
  measurement 1);
- wave n >= 2, ``progress``, is due ``interval`` months after the previous one
  (6 by default) while the family is open;
- a ``closing`` wave is due on the closing date when the family is closed.

A wave may be answered within ``tolerance`` of its due date (default ±4
weeks); before that window it is "coming up", after it "overdue".
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

WAVE_KINDS = ("baseline", "progress", "closing")
PERSON_ROLES = ("child", "youth", "parent", "other")
RESPONDENT_ROLES = (*PERSON_ROLES, "municipality")
ABOUT = ("self", "child", "municipality")
FILLED_BY = ("respondent", "team_member")
# Children and young people form one group in the programme; age decides what they answer.
YOUNG_ROLES = ("child", "youth")

DEFAULT_INTERVAL_MONTHS = 6
DEFAULT_TOLERANCE_WEEKS = 4

STATUS_DONE = "done"
STATUS_DUE = "due"
STATUS_OVERDUE = "overdue"
STATUS_UPCOMING = "upcoming"


class PlanError(ValueError):
    """A plan rule or schedule setting is not valid; the message says which field and why."""


# -- dates -----------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_on(birth_date: date | None, on: date) -> int | None:
    """Whole years at ``on``; None when the birth date is unknown.

    A person born on 29 February turns a year older on 1 March in common years.
    """
    if birth_date is None:
        return None
    if on < birth_date:
        raise PlanError("the measurement date is before the birth date")
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def in_age_range(age: int | None, min_age: int | None, max_age: int | None) -> bool:
    """Inclusive range check; an unknown age only matches a rule without age limits."""
    if age is None:
        return min_age is None and max_age is None
    if min_age is not None and age < min_age:
        return False
    return max_age is None or age <= max_age


# -- schedule ----------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """How often waves fall and how far from the due date a measurement still counts."""

    interval_months: int = DEFAULT_INTERVAL_MONTHS
    tolerance_weeks: int = DEFAULT_TOLERANCE_WEEKS

    def __post_init__(self) -> None:
        if not isinstance(self.interval_months, int) or not 1 <= self.interval_months <= 24:
            raise PlanError("the interval must be a whole number of months from 1 to 24")
        if not isinstance(self.tolerance_weeks, int) or not 0 <= self.tolerance_weeks <= 12:
            raise PlanError("the tolerance window must be a whole number of weeks from 0 to 12")
        if self.tolerance_weeks * 7 * 2 >= self.interval_months * 28:
            raise PlanError("the tolerance window is so wide that consecutive waves would overlap")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> Schedule:
        """Read ``interval_months`` and ``tolerance_weeks`` from a municipality's settings."""
        settings = settings or {}
        return cls(
            interval_months=int(settings.get("interval_months", DEFAULT_INTERVAL_MONTHS)),
            tolerance_weeks=int(settings.get("tolerance_weeks", DEFAULT_TOLERANCE_WEEKS)),
        )

    @property
    def tolerance(self) -> timedelta:
        return timedelta(weeks=self.tolerance_weeks)

    def window(self, due_on: date) -> tuple[date, date]:
        """First and last day on which a measurement for a wave due ``due_on`` counts."""
        return due_on - self.tolerance, due_on + self.tolerance

    def status(self, due_on: date, today: date, done: bool = False) -> str:
        """done, due (inside the window), overdue (after it) or upcoming (before it)."""
        if done:
            return STATUS_DONE
        opens, closes = self.window(due_on)
        if today < opens:
            return STATUS_UPCOMING
        if today > closes:
            return STATUS_OVERDUE
        return STATUS_DUE

    def measurement_date(self, due_on: date, today: date) -> date:
        """The date ages are taken at: today once the window has opened, else the due date."""
        return today if today >= self.window(due_on)[0] else due_on


@dataclass(frozen=True)
class WaveSlot:
    """One wave of a family's schedule (not yet necessarily stored)."""

    number: int
    kind: str
    due_on: date


def family_waves(enrolled_on: date, today: date, schedule: Schedule,
                 closed_on: date | None = None) -> list[WaveSlot]:
    """Every wave a family should have by ``today``, plus the next one coming up.

    Progress waves stop at the closing date; a closed family gets one closing
    wave due on the closing date.
    """
    slots = [WaveSlot(1, "baseline", enrolled_on)]
    horizon = today if closed_on is None else min(today, closed_on)
    number = 2
    while True:
        due = add_months(enrolled_on, schedule.interval_months * (number - 1))
        if closed_on is not None and due >= closed_on:
            break
        slots.append(WaveSlot(number, "progress", due))
        if due > horizon:
            break  # the one coming up
        number += 1
    if closed_on is not None:
        slots.append(WaveSlot(len(slots) + 1, "closing", closed_on))
    return slots


def municipality_waves(start_on: date, today: date, schedule: Schedule) -> list[WaveSlot]:
    """Municipality-level rounds (e.g. a fidelity form): first at ``start_on``, then every interval."""
    return family_waves(start_on, today, schedule)


# -- rules -------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One line of the plan: who answers which instrument, about whom, at what age, at which waves."""

    instrument_id: str
    respondent_role: str
    about: str = "self"
    min_age: int | None = None
    max_age: int | None = None
    waves: tuple[str, ...] = WAVE_KINDS
    filled_by: str = "respondent"

    def __post_init__(self) -> None:
        if not self.instrument_id or not isinstance(self.instrument_id, str):
            raise PlanError("a rule needs an instrument id")
        if self.respondent_role not in RESPONDENT_ROLES:
            raise PlanError(f"unknown respondent role {self.respondent_role!r}")
        if self.about not in ABOUT:
            raise PlanError(f"unknown 'about' {self.about!r} (self, child or municipality)")
        if (self.respondent_role == "municipality") != (self.about == "municipality"):
            raise PlanError("municipality-level rules are answered by and about the municipality")
        if self.about == "child" and self.respondent_role not in ("parent", "other"):
            raise PlanError("only a parent or other adult answers about a child")
        for name in ("min_age", "max_age"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or not 0 <= value <= 120):
                raise PlanError(f"{name} must be a whole number of years from 0 to 120")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise PlanError("min_age is above max_age")
        if not self.waves or any(kind not in WAVE_KINDS for kind in self.waves):
            raise PlanError(f"waves must be a non-empty list of {', '.join(WAVE_KINDS)}")
        if self.filled_by not in FILLED_BY:
            raise PlanError(f"filled_by must be one of {', '.join(FILLED_BY)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Build a rule from a plugin's plain dict (see the ``formengine_default_plan`` hook)."""
        known = {"instrument_id", "respondent_role", "about", "min_age", "max_age", "waves", "filled_by"}
        unknown = set(data) - known
        if unknown:
            raise PlanError(f"unknown rule field(s): {', '.join(sorted(unknown))}")
        waves = data.get("waves", WAVE_KINDS)
        if isinstance(waves, str):
            raise PlanError("waves must be a list")
        return cls(
            instrument_id=data.get("instrument_id", ""),
            respondent_role=data.get("respondent_role", ""),
            about=data.get("about", "self"),
            min_age=data.get("min_age"),
            max_age=data.get("max_age"),
            waves=tuple(waves),
            filled_by=data.get("filled_by", "respondent"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument_id": self.instrument_id, "respondent_role": self.respondent_role,
            "about": self.about, "min_age": self.min_age, "max_age": self.max_age,
            "waves": list(self.waves), "filled_by": self.filled_by,
        }

    def matches_role(self, role: str) -> bool:
        if self.respondent_role in YOUNG_ROLES:
            return role in YOUNG_ROLES
        return role == self.respondent_role


@dataclass(frozen=True)
class PersonInfo:
    """What the plan needs to know about a person."""

    id: int
    role: str
    birth_date: date | None
    closed_on: date | None = None


@dataclass(frozen=True)
class PlanItem:
    """One measurement the plan asks for: ``instrument_id`` answered by ``person_id`` about ``about_id``."""

    instrument_id: str
    person_id: int | None
    about_id: int | None
    filled_by: str = "respondent"


def _active_on(person: PersonInfo, on: date) -> bool:
    return person.closed_on is None or person.closed_on >= on


def items_for_family(rules: Iterable[Rule], persons: Iterable[PersonInfo], wave_kind: str,
                     on: date, available: set[str] | None = None) -> list[PlanItem]:
    """Every measurement the plan asks for at a wave of ``wave_kind`` measured ``on``.

    ``available`` is the set of instruments both enabled for the municipality
    and installed; rules for other instruments are left out. A person closed
    before ``on`` gets nothing. Ages are whole years at ``on``.
    """
    if wave_kind not in WAVE_KINDS:
        raise PlanError(f"unknown wave kind {wave_kind!r}")
    people = [p for p in persons if _active_on(p, on)]
    young = [p for p in people if p.role in YOUNG_ROLES]
    items: list[PlanItem] = []
    seen: set[tuple[str, int | None, int | None]] = set()
    for rule in rules:
        if wave_kind not in rule.waves or rule.about == "municipality":
            continue
        if available is not None and rule.instrument_id not in available:
            continue
        for person in people:
            if not rule.matches_role(person.role):
                continue
            if rule.about == "self":
                if not in_age_range(_age(person, on), rule.min_age, rule.max_age):
                    continue
                candidates = [(person.id, person.id)]
            else:
                candidates = [(person.id, child.id) for child in young
                              if in_age_range(_age(child, on), rule.min_age, rule.max_age)]
            for respondent_id, about_id in candidates:
                key = (rule.instrument_id, respondent_id, about_id)
                if key not in seen:
                    seen.add(key)
                    items.append(PlanItem(rule.instrument_id, respondent_id, about_id, rule.filled_by))
    return items


def items_for_municipality(rules: Iterable[Rule], wave_kind: str,
                           available: set[str] | None = None) -> list[PlanItem]:
    """Municipality-level measurements (answered for the municipality, not a person) at a wave."""
    items: list[PlanItem] = []
    for rule in rules:
        if rule.about != "municipality" or wave_kind not in rule.waves:
            continue
        if available is not None and rule.instrument_id not in available:
            continue
        if all(item.instrument_id != rule.instrument_id for item in items):
            items.append(PlanItem(rule.instrument_id, None, None, rule.filled_by))
    return items


def _age(person: PersonInfo, on: date) -> int | None:
    if person.birth_date is not None and person.birth_date > on:
        return None  # not born yet at that date: matches no age-limited rule
    return age_on(person.birth_date, on)


def rules_from_dicts(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Rule], list[str]]:
    """Parse plugin-provided rule dicts; bad rows are skipped and described, never raised."""
    rules, problems = [], []
    for index, row in enumerate(rows, start=1):
        try:
            rules.append(Rule.from_dict(row))
        except (PlanError, TypeError) as exc:
            problems.append(f"rule {index}: {exc}")
    return rules, problems
