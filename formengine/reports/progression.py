"""The paired progression report: measurement A vs measurement B for those measured at both."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine import clock
from formengine.current_score import scoring_versions_note
from formengine.definition_versions import comparable
from formengine.instruments import Instrument
from formengine.models import Consent, Family, Municipality, Wave
from formengine.reports.data import EVERYONE, Filters, Observation, in_band, observations
from formengine.reports.disclosure import DEFAULT_THRESHOLD, Line, protect
from formengine.reports.measurements import pick_wave
from formengine.reports.stats import (
    BandTest,
    GroupComparison,
    PairedStats,
    band_shift_test,
    compare_groups,
    paired_stats,
    rci_direction,
    reliable_change_index,
)

DEFAULT_MIN_GROUP = DEFAULT_THRESHOLD
WAVE_WORDS = ("first", "last", "closing")


class ReportError(ValueError):
    """A report was asked for something that does not exist (unknown score, bad wave)."""


def parse_wave(value: str | int) -> str | int:
    """A wave selector: a measurement number (1 = baseline), or "first", "last", "closing"."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip().lower()
        if text in WAVE_WORDS:
            return text
        try:
            number = int(text)
        except ValueError:
            raise ReportError(
                f"wave {value!r} is not a measurement number or one of {', '.join(WAVE_WORDS)}"
            ) from None
    if number < 1:
        raise ReportError(f"wave {value!r}: measurement numbers start at 1")
    return number


def score_spec(instrument: Instrument, score_name: str) -> dict[str, Any]:
    """The definition's metadata for a score, or ReportError naming the known scores."""
    spec = instrument.definition.score_spec(score_name)
    if spec is None:
        known = ", ".join(instrument.definition.score_names) or "none"
        raise ReportError(f"{instrument.id} has no score {score_name!r} (scores: {known})")
    return spec


def change_direction(change: float, spec: dict[str, Any]) -> str | None:
    """"improved", "worsened" or "unchanged" for a change, when the score defines a meaningful change.

    Without ``higher_is`` better/worse a large change is only "changed".
    """
    threshold = spec.get("meaningful_change")
    if threshold is None:
        return None
    if abs(change) < threshold:
        return "unchanged"
    higher_is = spec.get("higher_is")
    if higher_is == "better":
        return "improved" if change > 0 else "worsened"
    if higher_is == "worse":
        return "improved" if change < 0 else "worsened"
    return "changed"


@dataclass
class ProgressionReport:
    """Paired comparison of one score between two waves. Build it with :func:`progression_report`."""

    instrument_id: str
    score_name: str
    spec: dict[str, Any]
    from_wave: str | int
    to_wave: str | int
    filters: Filters
    stats: PairedStats
    n_first_only: int
    pairs: list[tuple[Observation, Observation]]
    band_order: list[str] = field(default_factory=list)
    shift: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    directions: dict[str, int] = field(default_factory=dict)
    # people left out because their two measurements use definition versions the plugin
    # does not declare comparable
    n_not_comparable: int = 0
    # why people measured at the first wave have no second: reason -> count
    attrition: dict[str, int] = field(default_factory=dict)
    # the first-wave observations of the people without a second (for the baseline comparison)
    first_only: list[Observation] = field(default_factory=list)
    # Reliable Change Index: direction -> count, and what it was computed with
    rci: dict[str, int] = field(default_factory=dict)
    rci_basis: dict[str, Any] | None = None
    band_test: BandTest | None = None

    @property
    def baseline_comparison(self) -> GroupComparison:
        """Completers (paired) vs non-completers (first only) on the first measurement."""
        return compare_groups([a.value for a, _b in self.pairs], [o.value for o in self.first_only])

    @property
    def definition_versions(self) -> list[str]:
        """The definition versions of the paired responses (pairs across versions only where declared)."""
        return scoring_versions_note(o.instrument_version for pair in self.pairs for o in pair)

    @property
    def scoring_versions(self) -> list[str]:
        """The scoring versions that produced the paired values (a note when more than one)."""
        return scoring_versions_note(o.scoring_version for pair in self.pairs for o in pair)

    @property
    def has_bands(self) -> bool:
        return bool(self.band_order)

    def suppressed(self, min_group: int = DEFAULT_MIN_GROUP) -> bool:
        """True when too few people are paired to show figures safely."""
        return self.stats.n < min_group

    def people_counts(self) -> tuple[dict[Any, int], list[Line]]:
        """Every count of people the report publishes, and the sums a reader can check them against.

        The band marginals are published too: the chart shows the share in
        each band at both measurements.
        """
        counts: dict[Any, int] = {"n_paired": self.stats.n, "n_first_only": self.n_first_only,
                                  "n_not_comparable": self.n_not_comparable}
        lines: list[Line] = []
        if self.has_bands:
            bands = self.band_order
            for a in bands:
                for b in bands:
                    counts[("shift", a, b)] = self.shift.get((a, b), 0)
            for band in bands:
                counts[("shift_from", band)] = sum(self.shift.get((band, b), 0) for b in bands)
                counts[("shift_to", band)] = sum(self.shift.get((a, band), 0) for a in bands)
                lines.append(Line(tuple(("shift", band, b) for b in bands), ("shift_from", band)))
                lines.append(Line(tuple(("shift", a, band) for a in bands), ("shift_to", band)))
            lines.append(Line(tuple(("shift_from", b) for b in bands), "n_paired"))
            lines.append(Line(tuple(("shift_to", b) for b in bands), "n_paired"))
        if self.directions:
            for key, value in self.directions.items():
                counts[("direction", key)] = value
            lines.append(Line(tuple(("direction", k) for k in self.directions), "n_paired"))
        if self.rci:
            for key, value in self.rci.items():
                counts[("rci", key)] = value
            lines.append(Line(tuple(("rci", k) for k in self.rci), "n_paired"))
        if self.attrition:
            for key, value in self.attrition.items():
                counts[("attrition", key)] = value
            lines.append(Line(tuple(("attrition", k) for k in self.attrition), "n_first_only"))
        return counts, lines

    def protected_counts(self, min_group: int = DEFAULT_MIN_GROUP) -> dict[Any, int | None]:
        """:meth:`people_counts` after small-cell suppression (None = withheld)."""
        counts, lines = self.people_counts()
        return protect(counts, lines, min_group)

    def shift_cell(self, band_from: str | None, band_to: str | None, min_group: int = DEFAULT_MIN_GROUP
                   ) -> int | None:
        """A shift-table count; None when it must not be shown (a small count, or one that reveals it)."""
        return self.protected_counts(min_group).get(("shift", band_from, band_to),
                                                    self.shift.get((band_from, band_to), 0))

    def summary(self) -> dict[str, Any]:
        """The unsuppressed figures (the CLI's JSON shape)."""
        s = self.stats
        return {
            "instrument": self.instrument_id,
            "score": self.score_name,
            "from": self.from_wave,
            "to": self.to_wave,
            "n_paired": s.n,
            "n_first_only": self.n_first_only,
            "mean_from": s.mean_from,
            "mean_to": s.mean_to,
            "mean_change": s.mean_change,
            "sd_change": s.sd_change,
            "ci95": list(s.ci95) if s.ci95 else None,
            "effect_size": s.effect_size,
            "d_z": s.d_z,
            "sd_from": s.sd_from,
            "d_baseline": s.d_baseline,
            "hedges_g": s.hedges_g,
            "t": s.t,
            "p_t": s.p_t,
            "wilcoxon_w": s.wilcoxon_w,
            "p_wilcoxon": s.p_wilcoxon,
            "band_test": None if self.band_test is None else {
                "test": self.band_test.name, "statistic": self.band_test.statistic,
                "df": self.band_test.df, "p": self.band_test.p},
            "rci": dict(self.rci) if self.rci_basis else None,
            "rci_basis": self.rci_basis,
            "attrition": dict(self.attrition),
            "baseline_comparison": _comparison_dict(self.baseline_comparison),
            "filters": self.filters.describe(),
            "scoring_versions": self.scoring_versions,
            "definition_versions": self.definition_versions,
            "n_not_comparable": self.n_not_comparable,
        }

    def to_dict(self, min_group: int = DEFAULT_MIN_GROUP) -> dict[str, Any]:
        """Figures safe to publish: means and change withheld below ``min_group`` pairs, every
        count of people passed through small-cell suppression (None = withheld)."""
        data = self.summary()
        safe = self.protected_counts(min_group)
        data["filters"] = self.filters.describe()
        data["min_group"] = min_group
        data["suppressed"] = self.suppressed(min_group)
        for key in ("n_paired", "n_first_only", "n_not_comparable"):
            data[key] = safe[key]
        if data["suppressed"]:
            for key in ("mean_from", "mean_to", "mean_change", "sd_change", "ci95", "effect_size", "d_z",
                        "sd_from", "d_baseline", "hedges_g", "t", "p_t", "wilcoxon_w", "p_wilcoxon",
                        "band_test", "rci"):
                data[key] = None
        data["bands"] = self.band_order
        data["shift"] = (
            None if data["suppressed"] or not self.has_bands else
            [[safe[("shift", a, b)] for b in self.band_order] for a in self.band_order]
        )
        for margin in ("shift_from", "shift_to"):
            data[margin] = None if data["shift"] is None else [safe[(margin, b)] for b in self.band_order]
        if data["shift"] is None or any(c is None for row in data["shift"] for c in row):
            # the test statistic is a function of the shift cells: with one withheld it could help
            # work the cell out, so it is published only with the whole table
            data["band_test"] = None
        data["meaningful_change"] = self.spec.get("meaningful_change")
        data["directions"] = (
            None if data["suppressed"] else {k: safe[("direction", k)] for k in self.directions}
        )
        data["attrition"] = {k: safe[("attrition", k)] for k in self.attrition} if self.attrition else None
        if data["rci"] is not None:
            data["rci"] = {k: safe[("rci", k)] for k in self.rci}
        comparison = self.baseline_comparison
        if comparison.n_a < min_group or comparison.n_b < min_group or data["n_paired"] is None \
                or data["n_first_only"] is None:
            data["baseline_comparison"] = None  # a group's mean would describe fewer than min_group people
        return data


def _comparison_dict(c: GroupComparison) -> dict[str, Any]:
    return {"n_completers": c.n_a, "n_non_completers": c.n_b, "mean_completers": c.mean_a,
            "mean_non_completers": c.mean_b, "sd_completers": c.sd_a, "sd_non_completers": c.sd_b,
            "difference": c.difference, "p_welch": c.p_welch}


def progression_report(
    session: Session,
    instrument: Instrument,
    score_name: str,
    from_wave: str | int = 1,
    to_wave: str | int = 2,
    filters: Filters = EVERYONE,
) -> ProgressionReport:
    """Pair each person's value at ``from_wave`` with their value at ``to_wave``.

    A person counts as "first only" (attrition) when measured at the first
    wave but not at the second. The age filter applies to the age at the
    first of the two measurements.
    """
    spec = score_spec(instrument, score_name)
    start, end = parse_wave(from_wave), parse_wave(to_wave)
    # between two numbered measurements no other measurement matters
    waves = (start, end) if isinstance(start, int) and isinstance(end, int) else None
    rows = observations(session, instrument.id, score_name, filters, waves)
    series: dict[tuple[Any, ...], list[Observation]] = defaultdict(list)
    for obs in rows:
        series[obs.key].append(obs)
    age_range = filters.age_range()
    subject_age_range = filters.subject_age_range()
    pairs: list[tuple[Observation, Observation]] = []
    first_only: list[Observation] = []
    not_comparable = 0
    for key in sorted(series, key=repr):
        a = pick_wave(series[key], start)
        if a is None:
            continue
        if not in_band(a.age, age_range) or not in_band(a.subject_age, subject_age_range):
            continue
        b = pick_wave(series[key], end)
        if b is None or b.response_id == a.response_id or b.wave_number == a.wave_number:
            first_only.append(a)
            continue
        if not comparable(instrument, a.instrument_version, b.instrument_version):
            not_comparable += 1
            continue
        pairs.append((a, b))
    stats = paired_stats([(a.value, b.value) for a, b in pairs])
    band_order = list((spec.get("bands") or {}).keys())
    shift: dict[tuple[str | None, str | None], int] = defaultdict(int)
    directions: dict[str, int] = defaultdict(int)
    for a, b in pairs:
        if band_order:
            for band in (a.band, b.band):
                if band is not None and band not in band_order:
                    band_order.append(band)
            shift[(a.band, b.band)] += 1
        direction = change_direction(b.value - a.value, spec)
        if direction:
            directions[direction] += 1
    band_test = None
    if band_order and pairs:
        band_test = band_shift_test([[shift.get((x, y), 0) for y in band_order] for x in band_order])
    rci: dict[str, int] = {}
    rci_basis = None
    reliability = instrument.reliability_of(score_name)
    sd = (reliability.sd if reliability and reliability.sd else stats.sd_from) if reliability else None
    if reliability is not None and sd:
        labels = ("improved", "unchanged", "deteriorated") if spec.get("higher_is") in ("better", "worse") \
            else ("changed", "unchanged")
        rci = dict.fromkeys(labels, 0)
        for a, b in pairs:
            rci[rci_direction(reliable_change_index(a.value, b.value, sd, reliability.coefficient),
                              spec.get("higher_is"))] += 1
        rci_basis = {"reliability": reliability.coefficient, "kind": reliability.kind,
                     "source": reliability.source, "sd": sd,
                     "sd_from": "published" if reliability.sd else "baseline of the paired people",
                     "critical": 1.96}
    attrition = attrition_reasons(session, first_only, end)
    return ProgressionReport(
        instrument_id=instrument.id, score_name=score_name, spec=spec, from_wave=start, to_wave=end,
        filters=filters, stats=stats, n_first_only=len(first_only), pairs=pairs, band_order=band_order,
        shift=dict(shift), directions=dict(directions), n_not_comparable=not_comparable,
        attrition=attrition, first_only=first_only, rci=rci, rci_basis=rci_basis, band_test=band_test,
    )


ATTRITION_REASONS = ("not_yet_due", "closed_early", "missed", "consent_withdrawn")


def attrition_reasons(session: Session, first_only: list[Observation], to_wave: str | int,
                      today: date | None = None, tolerance_days: int = 28) -> dict[str, int]:
    """Why each person measured at the first wave has no value at ``to_wave``.

    In this order: ``consent_withdrawn`` (the respondent's latest consent is
    withdrawn); ``closed_early`` (the family was closed before that wave fell
    due, or without it); ``not_yet_due`` (the family is open and the wave is not
    yet past its due date plus the tolerance, or not yet planned); otherwise
    ``missed`` (including an answer whose score is not valid).
    """
    today = today or clock.today()
    out = dict.fromkeys(ATTRITION_REASONS, 0)
    if not first_only:
        return out
    person_ids = {o.person_id for o in first_only if o.person_id is not None}
    family_ids = {o.family_id for o in first_only if o.family_id is not None}
    withdrawn: set[int] = set()
    latest: dict[int, Consent] = {}
    for consent in session.scalars(select(Consent).where(Consent.person_id.in_(person_ids))
                                   .order_by(Consent.given_on, Consent.id)):
        latest[consent.person_id] = consent
    withdrawn = {pid for pid, c in latest.items() if c.withdrawn_on is not None}
    families = {f.id: f for f in session.scalars(select(Family).where(Family.id.in_(family_ids)))}
    waves: dict[int, list[Wave]] = defaultdict(list)
    for wave in session.scalars(select(Wave).where(Wave.family_id.in_(family_ids))):
        waves[wave.family_id].append(wave)  # type: ignore[index]
    for obs in first_only:
        family = families.get(obs.family_id) if obs.family_id is not None else None
        if obs.person_id in withdrawn:
            out["consent_withdrawn"] += 1
            continue
        if family is None:
            out["missed"] += 1
            continue
        own = waves.get(family.id, [])
        if to_wave == "closing":
            target = next((w for w in own if w.kind == "closing"), None)
        elif isinstance(to_wave, int):
            target = next((w for w in own if w.number == to_wave), None)
        else:  # "first"/"last": the next wave after the first measurement
            later = sorted((w for w in own if w.number > obs.wave_number), key=lambda w: w.number)
            target = later[0] if later else None
        closed = family.closed_on if family.status == "closed" or family.closed_on else None
        if closed is not None and to_wave != "closing" and (target is None or target.due_on > closed):
            out["closed_early"] += 1
        elif closed is None and (target is None or target.due_on + timedelta(days=tolerance_days) >= today):
            out["not_yet_due"] += 1
        else:
            out["missed"] += 1
    return out


def compare_municipalities(session: Session, instrument: Instrument, score_name: str,
                           from_wave: str | int = 1, to_wave: str | int = 2, filters: Filters = EVERYONE
                           ) -> list[tuple[str, ProgressionReport]]:
    """The same paired report for each municipality in ``filters`` (all when None), by name."""
    stmt = select(Municipality.id, Municipality.name).order_by(Municipality.name)
    if filters.municipality_ids is not None:
        stmt = stmt.where(Municipality.id.in_(filters.municipality_ids))
    out = []
    for municipality_id, name in session.execute(stmt).all():
        one = replace(filters, municipality_ids=(municipality_id,))
        out.append((name, progression_report(session, instrument, score_name, from_wave, to_wave, one)))
    return out


COMPARISON_FIGURES = ("mean_from", "mean_to", "mean_change", "ci95", "d_z", "d_baseline", "hedges_g",
                      "p_t", "p_wilcoxon")


def comparison_table(rows: list[tuple[str, ProgressionReport]], min_group: int = DEFAULT_MIN_GROUP
                     ) -> list[dict[str, Any]]:
    """Municipalities side by side, safe to publish: each row's counts of people pass small-cell
    suppression together with the totals over the rows (which the report shows), and a row with
    fewer than ``min_group`` pairs has its figures withheld."""
    counts: dict[Any, int] = {}
    for index, (_name, report) in enumerate(rows):
        counts[("paired", index)] = report.stats.n
        counts[("first_only", index)] = report.n_first_only
    counts["paired"] = sum(r.stats.n for _n, r in rows)
    counts["first_only"] = sum(r.n_first_only for _n, r in rows)
    lines = [Line(tuple(("paired", i) for i in range(len(rows))), "paired"),
             Line(tuple(("first_only", i) for i in range(len(rows))), "first_only")]
    safe = protect(counts, lines, min_group)
    table = []
    for index, (name, report) in enumerate(rows):
        summary = report.summary()
        row: dict[str, Any] = {"municipality": name, "n_paired": safe[("paired", index)],
                               "n_first_only": safe[("first_only", index)],
                               "suppressed": report.suppressed(min_group)}
        for key in COMPARISON_FIGURES:
            row[key] = None if row["suppressed"] else summary[key]
        table.append(row)
    return table
