"""Report statistics: paired progression, person timelines and programme tables (no Flask here)."""

from formengine.reports.data import AGE_BANDS, Filters, Observation, observations, parse_age_band
from formengine.reports.progression import (
    DEFAULT_MIN_GROUP,
    ProgressionReport,
    ReportError,
    parse_wave,
    progression_report,
)
from formengine.reports.stats import PairedStats, paired_stats
from formengine.reports.timeline import TimelinePoint, TimelineSeries, person_timeline

__all__ = [
    "AGE_BANDS",
    "DEFAULT_MIN_GROUP",
    "Filters",
    "Observation",
    "PairedStats",
    "ProgressionReport",
    "ReportError",
    "TimelinePoint",
    "TimelineSeries",
    "observations",
    "paired_stats",
    "parse_age_band",
    "parse_wave",
    "person_timeline",
    "progression_report",
]
