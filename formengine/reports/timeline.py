"""A person's timeline: every score per wave, with bands and change since the previous and first wave."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from formengine.current_score import current_rows, scoring_versions_note
from formengine.models import Response, Score, Wave
from formengine.plugins import PluginRegistry
from formengine.reports.progression import change_direction


@dataclass
class TimelinePoint:
    """One score at one wave. Changes are None at the first point or when a value is missing."""

    wave_number: int
    wave_kind: str
    measured_on: date
    value: float | None
    band: str | None
    valid: bool
    scoring_version: str = ""
    change_previous: float | None = None
    change_first: float | None = None
    direction_previous: str | None = None
    direction_first: str | None = None


@dataclass
class TimelineSeries:
    """One score of one instrument for one respondent/subject pair, wave by wave."""

    instrument_id: str
    score_name: str
    spec: dict[str, Any]
    person_id: int | None
    about_person_id: int | None
    points: list[TimelinePoint] = field(default_factory=list)

    @property
    def scoring_versions(self) -> list[str]:
        """The scoring versions behind the points (a page notes them when there is more than one)."""
        return scoring_versions_note(p.scoring_version for p in self.points)

    @property
    def meaningful_change(self) -> float | None:
        return self.spec.get("meaningful_change")


def person_timeline(session: Session, registry: PluginRegistry, person_id: int) -> list[TimelineSeries]:
    """Every submitted, scored response the person gave or that is about them, as series per score.

    Instruments no longer installed are left out (their score metadata is unknown).
    """
    stmt = (
        select(Response, Score, Wave)
        .join(Score, Score.response_id == Response.id)
        .join(Wave, Wave.id == Response.wave_id)
        .where(Response.status == "submitted",
               or_(Response.person_id == person_id, Response.about_person_id == person_id))
        .order_by(Response.id, Score.id)
    )
    rows = list(session.execute(stmt))
    by_instrument: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_instrument[row[0].instrument_id].append(row)
    series: list[TimelineSeries] = []
    for instrument_id in sorted(by_instrument):
        instrument = registry.get(instrument_id)
        if instrument is None:
            continue
        # latest response per (respondent, subject, wave)
        latest: dict[tuple[Any, ...], tuple[Response, Score, Wave]] = {}
        for response, score, wave in current_rows(by_instrument[instrument_id]):
            key = (response.person_id, response.about_person_id, wave.number)
            when = response.submitted_at or response.created_at
            if key not in latest or when >= (latest[key][0].submitted_at or latest[key][0].created_at):
                latest[key] = (response, score, wave)
        groups: dict[tuple[Any, Any], list[tuple[Response, Score, Wave]]] = defaultdict(list)
        for (respondent, about, _number), item in latest.items():
            groups[(respondent, about)].append(item)
        for (respondent, about), items in sorted(groups.items(), key=lambda kv: repr(kv[0])):
            items.sort(key=lambda item: item[2].number)
            for spec in instrument.definition.scores:
                series.append(_series(instrument_id, spec, respondent, about, items))
    return series


def _series(instrument_id: str, spec: dict[str, Any], respondent: int | None, about: int | None,
            items: list[tuple[Response, Score, Wave]]) -> TimelineSeries:
    name = spec["name"]
    out = TimelineSeries(instrument_id, name, spec, respondent, about)
    first: float | None = None
    previous: float | None = None
    for response, score, wave in items:
        raw = (score.scores or {}).get(name) if score.valid else None
        value = float(raw) if raw is not None else None
        point = TimelinePoint(
            wave_number=wave.number, wave_kind=wave.kind,
            measured_on=(response.submitted_at or response.created_at).date(),
            value=value, band=(score.bands or {}).get(name) if value is not None else None,
            valid=score.valid, scoring_version=score.scoring_version,
        )
        if value is not None:
            if previous is not None:
                point.change_previous = value - previous
                point.direction_previous = change_direction(point.change_previous, spec)
            if first is not None:
                point.change_first = value - first
                point.direction_first = change_direction(point.change_first, spec)
            first = value if first is None else first
            previous = value
        out.points.append(point)
    return out
