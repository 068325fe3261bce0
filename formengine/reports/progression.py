"""The paired progression report: measurement A vs measurement B for those measured at both."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from formengine.current_score import scoring_versions_note
from formengine.definition_versions import comparable
from formengine.instruments import Instrument
from formengine.reports.data import EVERYONE, Filters, Observation, observations
from formengine.reports.disclosure import DEFAULT_THRESHOLD, Line, protect
from formengine.reports.measurements import pick_wave
from formengine.reports.stats import PairedStats, paired_stats

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
            for key in ("mean_from", "mean_to", "mean_change", "sd_change", "ci95", "effect_size"):
                data[key] = None
        data["bands"] = self.band_order
        data["shift"] = (
            None if data["suppressed"] or not self.has_bands else
            [[safe[("shift", a, b)] for b in self.band_order] for a in self.band_order]
        )
        for margin in ("shift_from", "shift_to"):
            data[margin] = None if data["shift"] is None else [safe[(margin, b)] for b in self.band_order]
        data["meaningful_change"] = self.spec.get("meaningful_change")
        data["directions"] = (
            None if data["suppressed"] else {k: safe[("direction", k)] for k in self.directions}
        )
        data["attrition"] = {k: safe[("attrition", k)] for k in self.attrition} if self.attrition else None
        return data


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
    rows = observations(session, instrument.id, score_name, filters)
    series: dict[tuple[Any, ...], list[Observation]] = defaultdict(list)
    for obs in rows:
        series[obs.key].append(obs)
    age_range = filters.age_range()
    pairs: list[tuple[Observation, Observation]] = []
    first_only = 0
    not_comparable = 0
    for key in sorted(series, key=repr):
        a = pick_wave(series[key], start)
        if a is None:
            continue
        if age_range is not None:
            low, high = age_range
            if a.age is None or a.age < low or (high is not None and a.age > high):
                continue
        b = pick_wave(series[key], end)
        if b is None or b.response_id == a.response_id or b.wave_number == a.wave_number:
            first_only += 1
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
    return ProgressionReport(
        instrument_id=instrument.id, score_name=score_name, spec=spec, from_wave=start, to_wave=end,
        filters=filters, stats=stats, n_first_only=first_only, pairs=pairs, band_order=band_order,
        shift=dict(shift), directions=dict(directions), n_not_comparable=not_comparable,
    )
