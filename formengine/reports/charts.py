"""Server-rendered SVG charts (pygal) for the reports, without scripts.

Pages show them as ``<img src="data:image/svg+xml;base64,...">`` next to a
table with the same figures, so the chart needs no script (the site's CSP
allows only its own scripts) and the numbers stay readable for screen readers.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

import pygal
from pygal.style import Style

from formengine.reports.disclosure import DEFAULT_THRESHOLD
from formengine.reports.progression import ProgressionReport
from formengine.reports.timeline import TimelineSeries

STYLE = Style(
    background="white", plot_background="white", foreground="#222", foreground_strong="#111",
    foreground_subtle="#666", colors=("#1f5f8b", "#c25e00", "#2e7d32", "#6a1b9a", "#ad1457"),
    font_family="system-ui, sans-serif", label_font_size=14, major_label_font_size=14,
    legend_font_size=14, title_font_size=16, value_font_size=13,
)
_SCRIPT = re.compile(r"<script.*?</script>", re.S)


def _options(title: str) -> dict:
    return {"title": title, "style": STYLE, "js": [], "disable_xml_declaration": True, "width": 720,
            "height": 360, "print_values": False, "legend_at_bottom": True, "truncate_legend": 40}


def svg(chart: pygal.graph.graph.Graph) -> str:
    """The chart's SVG text with pygal's inline configuration script removed."""
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def data_uri(svg_text: str) -> str:
    """An ``img`` source for an SVG."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg_text.encode("utf-8")).decode("ascii")


def timeline_chart(series: Sequence[TimelineSeries], title: str, waves: Sequence[tuple[int, str]],
                   series_labels: Sequence[str]) -> str:
    """One line per score across ``waves`` ((number, label) pairs); a missing value leaves a gap."""
    chart = pygal.Line(**_options(title), allow_interruptions=True, dots_size=5)
    chart.x_labels = [label for _number, label in waves]
    lows = [s.spec["min"] for s in series if s.spec.get("min") is not None]
    highs = [s.spec["max"] for s in series if s.spec.get("max") is not None]
    if lows and highs:
        chart.range = (min(lows), max(highs))
    for one, name in zip(series, series_labels, strict=True):
        by_wave = {p.wave_number: p.value for p in one.points}
        chart.add(name, [by_wave.get(number) for number, _label in waves])
    return svg(chart)


def progression_chart(report: ProgressionReport, title: str, from_label: str, to_label: str,
                      band_labels: dict[str, str] | None = None, min_group: int = DEFAULT_THRESHOLD) -> str:
    """With bands: the share of people in each band at both waves (a band whose count small-cell
    suppression withholds is left out). Without: each person's two values."""
    if report.has_bands:
        chart = pygal.StackedBar(**_options(title))
        chart.x_labels = [from_label, to_label]
        total = report.stats.n or 1
        safe = report.protected_counts(min_group)
        for band in report.band_order:
            at_from, at_to = safe[("shift_from", band)], safe[("shift_to", band)]
            chart.add((band_labels or {}).get(band, band),
                      [None if at_from is None else 100 * at_from / total,
                       None if at_to is None else 100 * at_to / total])
        chart.value_formatter = lambda v: f"{v:.0f} %"
        return svg(chart)
    chart = pygal.Box(**_options(title), box_mode="tukey")
    chart.add(from_label, [a.value for a, _b in report.pairs])
    chart.add(to_label, [b.value for _a, b in report.pairs])
    return svg(chart)


def change_chart(title: str, bars: Sequence[tuple[str, float, tuple[float, float] | None]],
                 series_label: str = "") -> str:
    """Mean change per score as bars (one per score), the 95 % confidence interval as whiskers."""
    options = {**_options(title), "height": 420}
    chart = pygal.Bar(**options, show_legend=bool(series_label), x_label_rotation=25, truncate_label=-1)
    chart.x_labels = [label for label, _change, _ci in bars]
    values = []
    lows, highs = [0.0], [0.0]
    for _label, change, ci in bars:
        value: dict = {"value": change}
        lows.append(change)
        highs.append(change)
        if ci is not None:
            value["ci"] = {"low": ci[0], "high": ci[1]}
            lows.append(ci[0])
            highs.append(ci[1])
        values.append(value)
    chart.add(series_label, values)
    low, high = min(lows), max(highs)
    pad = (high - low) * 0.05 or 1.0
    chart.range = (low - pad, high + pad)
    return svg(chart)


def rounds_chart(title: str, rounds: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
                 value_range: tuple[float, float] | None = None) -> str:
    """One line per series across rounds (e.g. fidelity indexes per round); a missing value leaves a gap."""
    chart = pygal.Line(**_options(title), allow_interruptions=True, dots_size=5)
    chart.x_labels = list(rounds)
    if value_range is not None:
        chart.range = value_range
    for label, values in series:
        chart.add(label, list(values))
    return svg(chart)
