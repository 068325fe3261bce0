"""The status report of one municipality for a period: the document a programme sends every six months.

Built from the other report modules (no Flask): paired progression
(:mod:`formengine.reports.progression`), programme tables
(:mod:`formengine.reports.programme`), and every count of people through
:mod:`formengine.reports.disclosure`.

- **Families**: enrolled in the period, closed in the period, open at its end.
- **Measurements due vs done**: the families' waves that fell due in the
  period, per measurement number (closings on their own row), and how many
  have at least one submitted answer.
- **Progression**: for every scored instrument about a person, each score
  from measurement 1 to each person's latest, for the families enrolled by
  the end of the period.
- **Fidelity over time**: the municipality's index means per round.
- **Background**: the answer shares of every unscored form about a person
  (background and progress forms), each person's first answer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from formengine import clock
from formengine.current_score import scoring_versions_note
from formengine.instruments import Instrument
from formengine.models import Family, Municipality, Response, Wave
from formengine.plugins import PluginRegistry
from formengine.practice import not_practice
from formengine.reports.data import Filters
from formengine.reports.disclosure import ProtectedGrid, protect, protect_grid
from formengine.reports.programme import (
    DistributionTable,
    IndexRow,
    distribution_instruments,
    distributions,
    index_instruments,
    index_table,
)
from formengine.reports.progression import ProgressionReport, progression_report


@dataclass
class CompletionRow:
    label: str  # measurement number, or "closing"
    due: int | None
    done: int | None
    not_done: int | None

    @property
    def share_done(self) -> float | None:
        return self.done / self.due if self.done is not None and self.due else None


@dataclass
class InstrumentProgress:
    instrument: Instrument
    reports: list[tuple[dict[str, Any], ProgressionReport, dict[str, Any]]]  # (spec, report, safe figures)

    @property
    def shown(self) -> list[tuple[dict[str, Any], ProgressionReport, dict[str, Any]]]:
        return [r for r in self.reports if not r[2]["suppressed"]]


@dataclass
class StatusReport:
    municipality: Municipality
    period_from: date
    period_to: date
    made_on: date
    threshold: int
    families: dict[str, int | None]
    completion: list[CompletionRow]
    completion_total: CompletionRow
    progress: list[InstrumentProgress]
    fidelity: list[tuple[Instrument, list[IndexRow]]]
    background: list[DistributionTable]
    scoring_versions: dict[str, list[str]] = field(default_factory=dict)


def family_counts(session: Session, municipality_id: int, period_from: date, period_to: date,
                  threshold: int) -> dict[str, int | None]:
    """Families enrolled and closed in the period, and open at its end (small counts withheld)."""
    base = select(func.count(Family.id)).where(Family.municipality_id == municipality_id)
    enrolled = session.scalar(base.where(Family.enrolled_on.between(period_from, period_to))) or 0
    closed = session.scalar(base.where(Family.closed_on.is_not(None),
                                       Family.closed_on.between(period_from, period_to))) or 0
    still_open = session.scalar(base.where(
        Family.enrolled_on <= period_to,
        (Family.closed_on.is_(None)) | (Family.closed_on > period_to))) or 0
    return protect({"enrolled": enrolled, "closed": closed, "open": still_open}, (), threshold)


def completion(session: Session, municipality_id: int, period_from: date, period_to: date,
               threshold: int) -> tuple[list[CompletionRow], CompletionRow]:
    """Family waves due in the period by measurement number, with and without a submitted answer."""
    answered = (select(Response.wave_id).where(Response.status == "submitted", not_practice(),
                                              Response.wave_id.is_not(None)).distinct().subquery())
    rows = session.execute(
        select(Wave.number, Wave.kind, Wave.id.in_(select(answered.c.wave_id)))
        .where(Wave.municipality_id == municipality_id, Wave.family_id.is_not(None),
               Wave.due_on.between(period_from, period_to))
    ).all()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for number, kind, done in rows:
        label = "closing" if kind == "closing" else str(number)
        counts[label][0 if done else 1] += 1
    labels = sorted(counts, key=lambda k: (k == "closing", int(k) if k.isdigit() else 0))
    if not labels:
        return [], CompletionRow("all", 0, 0, 0)
    grid: ProtectedGrid = protect_grid([counts[k] for k in labels], threshold)
    out = [CompletionRow(label, grid.row_totals[i], grid.cells[i][0], grid.cells[i][1])
           for i, label in enumerate(labels)]
    return out, CompletionRow("all", grid.total, grid.column_totals[0], grid.column_totals[1])


def progress_instruments(registry: PluginRegistry) -> list[Instrument]:
    """Scored instruments about a person."""
    return [i for i in registry.sorted_instruments()
            if i.definition.subject == "person" and i.definition.scores]


def status_report(session: Session, registry: PluginRegistry, municipality: Municipality, period_from: date,
                  period_to: date, threshold: int, today: date | None = None) -> StatusReport:
    """Everything the status document shows, with small cells withheld."""
    if period_to < period_from:
        raise ValueError("the period ends before it starts")
    today = today or clock.today()
    mid = municipality.id
    filters = Filters(municipality_ids=(mid,), enrolled_to=period_to)
    progress = []
    versions: dict[str, list[str]] = {}
    for instrument in progress_instruments(registry):
        reports = []
        for spec in instrument.definition.scores:
            report = progression_report(session, instrument, spec["name"], 1, "last", filters)
            if not report.stats.n and not report.n_first_only:
                continue
            reports.append((spec, report, report.to_dict(threshold)))
        if reports:
            progress.append(InstrumentProgress(instrument, reports))
            versions[instrument.id] = scoring_versions_note(
                v for _spec, r, _d in reports for v in r.scoring_versions)
    fidelity = []
    for instrument in index_instruments(registry):
        rows = index_table(session, instrument, Filters(municipality_ids=(mid,)))
        if rows:
            fidelity.append((instrument, rows))
            versions[instrument.id] = scoring_versions_note(v for r in rows for v in r.scoring_versions)
    background = []
    for instrument in distribution_instruments(registry):
        table = distributions(session, instrument, "municipality", Filters(municipality_ids=(mid,)))
        if table.columns:
            background.append(table.protect(threshold))
    done, total = completion(session, mid, period_from, period_to, threshold)
    return StatusReport(
        municipality=municipality, period_from=period_from, period_to=period_to, made_on=today,
        threshold=threshold, families=family_counts(session, mid, period_from, period_to, threshold),
        completion=done, completion_total=total, progress=progress, fidelity=fidelity,
        background=background, scoring_versions={k: v for k, v in versions.items() if v},
    )
