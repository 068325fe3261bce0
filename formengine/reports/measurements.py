"""What "measurement k" of a person is: the one definition the reports and the exports share.

- **Whose series.** A series is one respondent's answers about one person:
  ``("person", respondent, subject)`` where the subject follows
  :func:`formengine.responses.subject_of` (a self-report is about its
  respondent, a parent's report about a child is about the child). Forms answered
  for a municipality form the series ``("municipality", id)``.
- **Measurement k** is the response's wave number. Every wave of a family is
  numbered, the closing wave too: a family closed after measurement 1 has its
  closing stored as measurement 2, and it *is* measurement 2 for pairing
  (its kind, "closing", is kept alongside).
- **What counts.** A submitted response whose current score (see
  :mod:`formengine.current_score`) is valid and has a value for the score.
- **Answered twice in one wave:** the later answer counts — the later
  measurement day (submitted, else created), then the higher response id.
- **The measurement day** is the day the response was submitted (created, if
  it never was), in UTC.

The progression report (:mod:`formengine.reports.progression`), the wide
export (:mod:`formengine.exports.dataset`) and their test go through
:func:`observation` and :func:`pick_wave`, so the wide file pairs exactly what
the report pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Observation:
    """One valid score of one response, with what reports group and filter by."""

    response_id: int
    key: tuple[Any, ...]  # who was measured: ("person", respondent, subject) or ("municipality", id)
    municipality_id: int
    person_id: int | None
    about_person_id: int | None
    wave_number: int
    wave_kind: str
    measured_on: date
    value: float
    band: str | None
    age: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    scoring_version: str = ""
    instrument_version: str = ""
    # age of the person the answers are about (the child of a parent's report; the respondent otherwise)
    subject_age: int | None = None
    family_id: int | None = None


def series_key(person_id: int | None, about_person_id: int | None, municipality_id: int) -> tuple[Any, ...]:
    """The series a response belongs to (see the module docstring)."""
    if person_id is not None:
        return ("person", person_id, about_person_id)
    return ("municipality", municipality_id)


def measured_on(submitted_at: datetime | None, created_at: datetime | None) -> date:
    """The measurement day: submitted, else created (UTC)."""
    moment = submitted_at or created_at
    if moment is None:
        raise ValueError("a response without a submitted or created time has no measurement day")
    return moment.date()


def answer_order(obs: Observation) -> tuple[date, int]:
    """Sort key: of two answers in one wave, the greater one counts."""
    return (obs.measured_on, obs.response_id)


def age_on(birth_date: date | None, on: date) -> int | None:
    """Completed years at ``on``."""
    if birth_date is None:
        return None
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def observation(*, response_id: int, municipality_id: int, person_id: int | None,
                about_person_id: int | None, wave_number: int, wave_kind: str,
                submitted_at: datetime | None, created_at: datetime | None, valid: bool,
                value: Any, band: str | None = None, birth_date: date | None = None,
                scoring_version: str = "", instrument_version: str = "",
                subject_birth_date: date | None = None, family_id: int | None = None) -> Observation | None:
    """The observation of one score of one response, or None when it does not count."""
    if not valid or value is None:
        return None
    when = measured_on(submitted_at, created_at)
    return Observation(
        response_id=response_id, key=series_key(person_id, about_person_id, municipality_id),
        municipality_id=municipality_id, person_id=person_id, about_person_id=about_person_id,
        wave_number=wave_number, wave_kind=wave_kind, measured_on=when, value=float(value), band=band,
        age=age_on(birth_date, when), scoring_version=scoring_version or "",
        instrument_version=instrument_version or "",
        subject_age=age_on(subject_birth_date, when), family_id=family_id,
    )


def pick_wave(series: Iterable[Observation], selector: str | int) -> Observation | None:
    """The observation of one series at ``selector``: measurement k, or "first", "last", "closing".

    "first"/"last" are the lowest/highest measurement number observed; "closing"
    the closing wave whatever its number. Answered twice: the later answer.
    """
    series = list(series)
    if not series:
        return None
    if selector == "first":
        number = min(o.wave_number for o in series)
        candidates = [o for o in series if o.wave_number == number]
    elif selector == "last":
        number = max(o.wave_number for o in series)
        candidates = [o for o in series if o.wave_number == number]
    elif selector == "closing":
        candidates = [o for o in series if o.wave_kind == "closing"]
    else:
        candidates = [o for o in series if o.wave_number == selector]
    if not candidates:
        return None
    return max(candidates, key=answer_order)
