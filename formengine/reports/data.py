"""Reading scored observations from the database for reports (SQLAlchemy, no Flask).

Only submitted responses count, and only when the score computed by the
newest scoring version is valid. "Newest" is the instrument's current
scoring version when a score under it exists, else the most recently
computed score.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from formengine.current_score import is_current_score
from formengine.models import Family, Person, Response, Score, Wave
from formengine.reports.measurements import Observation, age_on, observation

__all__ = ["AGE_BANDS", "EVERYONE", "Filters", "Observation", "age_on", "observations", "parse_age_band"]

# Age bands offered by the reports' filters (inclusive years); a band is "lo-hi" or "lo+".
AGE_BANDS = ("0-5", "6-11", "12-14", "15-17", "18-24", "25-39", "40+")


def parse_age_band(band: str) -> tuple[int, int | None]:
    """``"12-17"`` -> (12, 17), ``"40+"`` -> (40, None); ValueError otherwise."""
    band = band.strip()
    try:
        if band.endswith("+"):
            return int(band[:-1]), None
        low, high = band.split("-", 1)
        low_i, high_i = int(low), int(high)
    except ValueError:
        raise ValueError(f"age band {band!r} is not like '12-17' or '40+'") from None
    if high_i < low_i:
        raise ValueError(f"age band {band!r} ends before it starts")
    return low_i, high_i


@dataclass(frozen=True)
class Filters:
    """Who a report covers. ``municipality_ids`` None means every municipality."""

    municipality_ids: tuple[int, ...] | None = None
    role: str | None = None
    sex: str | None = None
    age_band: str | None = None
    enrolled_from: date | None = None
    enrolled_to: date | None = None
    # the person the answers are about (the child of a parent's report; the respondent for self-reports)
    subject_sex: str | None = None
    subject_age_band: str | None = None

    def age_range(self) -> tuple[int, int | None] | None:
        return parse_age_band(self.age_band) if self.age_band else None

    def subject_age_range(self) -> tuple[int, int | None] | None:
        return parse_age_band(self.subject_age_band) if self.subject_age_band else None

    def narrow(self, stmt: Select, respondent: Any) -> Select:
        """``stmt`` (over responses) kept to the municipalities and the respondent's role and sex.

        ``respondent`` is the ``Person`` entity (or alias) joined as the response's respondent.
        """
        if self.municipality_ids is not None:
            stmt = stmt.where(Response.municipality_id.in_(self.municipality_ids))
        if self.role:
            stmt = stmt.where(respondent.role == self.role)
        if self.sex:
            stmt = stmt.where(respondent.sex == self.sex)
        return stmt

    def describe(self) -> dict[str, Any]:
        """The filters as plain data (for audit details and exports)."""
        out: dict[str, Any] = {}
        for key in ("role", "sex", "age_band", "subject_sex", "subject_age_band"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.municipality_ids is not None:
            out["municipality_ids"] = list(self.municipality_ids)
        if self.enrolled_from:
            out["enrolled_from"] = self.enrolled_from.isoformat()
        if self.enrolled_to:
            out["enrolled_to"] = self.enrolled_to.isoformat()
        return out


EVERYONE = Filters()


def in_band(age: int | None, band: tuple[int, int | None] | None) -> bool:
    """True when there is no band, or ``age`` is known and inside it."""
    if band is None:
        return True
    low, high = band
    return age is not None and age >= low and (high is None or age <= high)


def _base_statement(instrument_id: str, score_name: str, filters: Filters,
                    waves: Collection[int] | None = None) -> Select:
    """Plain columns of every counting value: submitted, current score valid, the score present.

    The current-score rule, validity and the score's presence are applied in
    SQL, and only the JSON values of the one score are read, so a report over
    a large table reads little more than the rows it uses.
    """
    respondent = aliased(Person)
    subject = aliased(Person)
    value = Score.scores[score_name].as_float()
    stmt = (
        select(Response.id, Response.municipality_id, Response.person_id, Response.about_person_id,
               Wave.number, Wave.kind, Response.submitted_at, Response.created_at, value,
               Score.bands[score_name].as_string(), respondent.birth_date, Score.scoring_version,
               Response.instrument_version, subject.birth_date, Wave.family_id)
        .select_from(Response)
        .join(Score, Score.response_id == Response.id)
        .join(Wave, Wave.id == Response.wave_id)
        .outerjoin(respondent, respondent.id == Response.person_id)
        # the answers are about about_person_id, else about the respondent
        .outerjoin(subject, subject.id == func.coalesce(Response.about_person_id, Response.person_id))
        .where(Response.instrument_id == instrument_id, Response.status == "submitted",
               is_current_score(), Score.valid.is_(True), value.is_not(None))
    )
    if waves is not None:
        stmt = stmt.where(Wave.number.in_(sorted(waves)))
    stmt = filters.narrow(stmt, respondent)
    if filters.subject_sex:
        stmt = stmt.where(subject.sex == filters.subject_sex)
    if filters.enrolled_from or filters.enrolled_to:
        stmt = stmt.join(Family, Family.id == Wave.family_id)
        if filters.enrolled_from:
            stmt = stmt.where(Family.enrolled_on >= filters.enrolled_from)
        if filters.enrolled_to:
            stmt = stmt.where(Family.enrolled_on <= filters.enrolled_to)
    return stmt


def observations(
    session: Session,
    instrument_id: str,
    score_name: str,
    filters: Filters = EVERYONE,
    waves: Collection[int] | None = None,
) -> list[Observation]:
    """Every valid value of ``score_name`` of ``instrument_id`` from each response's current score.

    ``waves`` restricts to those measurement numbers (a report between two
    numbered measurements needs no others). The age filter is left to the
    caller (it applies at a chosen wave); each observation carries the
    respondent's age at the time of answering.
    """
    stmt = _base_statement(instrument_id, score_name, filters, waves)
    out: list[Observation] = []
    for row in session.execute(stmt.execution_options(yield_per=5000)):
        (rid, mid, pid, about_id, number, kind, submitted_at, created_at, value, band, birth_date,
         scoring_version, instrument_version, subject_birth_date, family_id) = row
        obs = observation(
            response_id=rid, municipality_id=mid, person_id=pid, about_person_id=about_id,
            wave_number=number, wave_kind=kind, submitted_at=submitted_at, created_at=created_at,
            valid=True, value=value, band=band, birth_date=birth_date, scoring_version=scoring_version,
            instrument_version=instrument_version, subject_birth_date=subject_birth_date,
            family_id=family_id,
        )
        if obs is not None:
            out.append(obs)
    return out
