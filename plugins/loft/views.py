"""HTML for the LØFT worksheet result: each goal's scaling over time (inline SVG) and the worksheet's notes.

Points come from this worksheet and the person's earlier ones (``history``).
A goal is one line, keyed by its goal number; a point's date is the scaling's
own date, or the worksheet's date when the scaling was not dated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from formengine.api import Definition, Markup, render_plugin_template, text

from .summary import goal_entries

# Plot area inside the 720 x 360 view box.
LEFT, RIGHT, TOP, BOTTOM = 56.0, 690.0, 24.0, 300.0
# Colour, dash and marker shape per line, so lines differ without colour vision too.
STYLES = (
    ("#1f5fa8", "", "circle"),
    ("#b3261e", "8 4", "square"),
    ("#2e7d32", "2 4", "triangle"),
    ("#6a3d9a", "12 4 2 4", "diamond"),
    ("#a15c00", "4 2", "circle"),
)
GOAL_WORD = {"da": "Mål", "en": "Goal"}
LEGEND_LENGTH = 60
TICK_GAP = 80.0


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _worksheet_date(response: Any) -> date | None:
    submitted = _as_date(getattr(response, "submitted_at", None))
    return submitted or _as_date(getattr(response, "created_at", None))


def format_date(day: date, lang: str) -> str:
    return day.strftime("%d.%m.%Y") if lang == "da" else day.isoformat()


def goal_series(responses: Sequence[Any]) -> list[dict[str, Any]]:
    """One series per goal number: its points (date, scaling) in date order and its latest wording.

    ``responses`` are the worksheets oldest first; when one goal has two scalings
    on the same date, the later worksheet's wins.
    """
    series: dict[int, dict[str, Any]] = {}
    for response in responses:
        fallback = _worksheet_date(response)
        for entry in goal_entries(getattr(response, "answers", None) or {}):
            number, scaling = entry.get("goal_no"), entry.get("scaling")
            if not isinstance(number, int) or isinstance(number, bool):
                continue
            goal = series.setdefault(number, {"number": number, "points": {}, "wording": ""})
            if entry.get("goal"):
                goal["wording"] = str(entry["goal"])
            day = _as_date(entry.get("scaled_on")) or fallback
            if isinstance(scaling, int) and not isinstance(scaling, bool) and day is not None:
                goal["points"][day] = scaling
    ordered = []
    for number in sorted(series):
        goal = series[number]
        goal["points"] = sorted(goal["points"].items())
        ordered.append(goal)
    return ordered


def chart_data(series: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Positions for the SVG: lines with points, date ticks and the 0-10 grid."""
    days = sorted({day for goal in series for day, _ in goal["points"]})
    if not days:
        return {"lines": [], "ticks": [], "grid": []}
    first, last = days[0], days[-1]
    span = (last - first).days

    def x_of(day: date) -> float:
        if span == 0:
            return round((LEFT + RIGHT) / 2, 1)
        return round(LEFT + (RIGHT - LEFT) * (day - first).days / span, 1)

    def y_of(value: int) -> float:
        return round(BOTTOM - (BOTTOM - TOP) * value / 10, 1)

    goal_word = text(GOAL_WORD, lang)
    lines = []
    for index, goal in enumerate(series):
        colour, dash, shape = STYLES[index % len(STYLES)]
        wording = goal["wording"]
        if len(wording) > LEGEND_LENGTH:
            wording = wording[: LEGEND_LENGTH - 1].rstrip() + "…"
        points = [
            {"x": x_of(day), "y": y_of(value), "value": value, "date": format_date(day, lang)}
            for day, value in goal["points"]
        ]
        lines.append({
            "number": goal["number"], "name": f"{goal_word} {goal['number']}", "wording": wording,
            "colour": colour, "dash": dash, "shape": shape, "points": points,
            "path": " ".join(f"{p['x']},{p['y']}" for p in points),
        })
    # date labels at least TICK_GAP apart so they never overlap; always the first and the last
    shown: list[date] = []
    for day in days:
        if not shown or x_of(day) - x_of(shown[-1]) >= TICK_GAP:
            shown.append(day)
    if shown[-1] != last:
        if len(shown) > 1:
            shown.pop()
        shown.append(last)
    ticks = [{"x": x_of(day), "label": format_date(day, lang)} for day in shown]
    grid = [{"y": y_of(value), "value": value} for value in range(0, 11, 2)]
    return {"lines": lines, "ticks": ticks, "grid": grid}


def _notes(answers: Mapping[str, Any], definition: Definition, lang: str) -> list[dict[str, str]]:
    notes = []
    for item in definition.items:
        if item.get("type") == "group":
            continue
        value = answers.get(item["id"])
        if value in (None, ""):
            continue
        if item.get("type") == "date":
            day = _as_date(value)
            value = format_date(day, lang) if day else value
        notes.append({"id": item["id"], "label": text(item["label"], lang), "value": str(value)})
    return notes


def _goals(answers: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    goals = []
    for entry in goal_entries(answers):
        day = _as_date(entry.get("scaled_on"))
        goals.append({
            "number": entry.get("goal_no"),
            "wording": entry.get("goal") or "",
            "scaling": entry.get("scaling"),
            "date": format_date(day, lang) if day else "",
        })
    return goals


def result(response: Any, history: list[Any], definition: Definition, lang: str) -> Markup:
    """The chart over this and the earlier worksheets, then this worksheet's goals and notes."""
    answers = dict(getattr(response, "answers", None) or {})
    series = goal_series([*history, response])
    return render_plugin_template(
        __package__, "loft/progress.html",
        chart=chart_data(series, lang), lang=lang, worksheets=len(history) + 1,
        goals=_goals(answers, lang), notes=_notes(answers, definition, lang),
        box={"left": LEFT, "right": RIGHT, "top": TOP, "bottom": BOTTOM}, remarks=remarks(response),
    )


def remarks(response: Any) -> list[str]:
    """The scoring's remarks on a stored response (its flags' messages), if it has been scored."""
    score = getattr(response, "current_score", None)
    flags = getattr(score, "flags", None) or []
    return [str(flag.get("message", "")) for flag in flags if isinstance(flag, dict)]
