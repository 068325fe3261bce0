"""HTML for the ICS worksheet: the rating widget and the triangle result view (inline SVG).

Geometry is computed here; the markup lives in the plugin's own templates
(``templates/ics/``), rendered autoescaped through ``render_plugin_template``,
so whatever a team member typed is always shown as text, never as HTML.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

from formengine.api import Definition, Markup, code_key, render_plugin_template, text

from .summary import SIDES

# Triangle corners in the SVG's 800 x 600 view box: apex, bottom left, bottom right.
APEX, LEFT, RIGHT = (400.0, 50.0), (170.0, 500.0), (630.0, 500.0)
# Each side runs between two corners; the child's development is the left side,
# parenting capacity the right side, family and network the base (the usual ICS drawing).
SIDE_ENDS = {"child": (APEX, LEFT), "parenting": (APEX, RIGHT), "family": (LEFT, RIGHT)}
SIDE_TITLES = {
    "child": {"da": "Barnets udvikling", "en": "The child's development"},
    "parenting": {"da": "Forældrekompetencer", "en": "Parenting capacity"},
    "family": {"da": "Familie og netværk", "en": "Family and network"},
}
CENTRE_LABEL = {"da": "Barnet", "en": "The child"}
# Shape and letter as well as colour, so a rating never depends on colour vision alone.
SYMBOLS = {"resource": "+", "neutral": "=", "concern": "!", "not_assessed": "?", None: "–"}
UNRATED = {"da": "Ingen vurdering", "en": "No rating"}


def _rating_labels(definition: Definition, lang: str) -> dict[Any, str]:
    options = definition.scale_options(definition.items_by_id["health_rating"])
    labels: dict[Any, str] = {o["code"]: text(o["label"], lang) for o in options}
    labels[None] = UNRATED.get(lang, UNRATED["da"])
    return labels


def _dimension_label(definition: Definition, dimension: str, lang: str) -> str:
    page = next(p for p in definition.pages if p["id"] == dimension)
    return text(page["title"], lang).split(" – ", 1)[-1]


def _point(start: tuple[float, float], end: tuple[float, float], fraction: float) -> tuple[float, float]:
    return (start[0] + (end[0] - start[0]) * fraction, start[1] + (end[1] - start[1]) * fraction)


def triangle_data(answers: Mapping[str, Any], definition: Definition, lang: str) -> list[dict[str, Any]]:
    """One entry per side: title, counts, and each dimension's marker position, rating and notes."""
    labels = _rating_labels(definition, lang)
    sides = []
    for side, dimensions in SIDES:
        start, end = SIDE_ENDS[side]
        markers = []
        for index, dimension in enumerate(dimensions):
            x, y = _point(start, end, (index + 1) / (len(dimensions) + 1))
            rating = answers.get(f"{dimension}_rating")
            name = _dimension_label(definition, dimension, lang)
            if side == "family":  # labels under the base, centred, wrapped narrow
                anchor, lx, ly, width = "middle", x, y + 30, 16
            elif side == "child":  # labels left of the left side
                anchor, lx, ly, width = "end", x - 18, y + 4, 22
            else:
                anchor, lx, ly, width = "start", x + 18, y + 4, 22
            markers.append({
                "id": dimension,
                "name": name,
                "lines": textwrap.wrap(name, width) or [name],
                "x": round(x, 1), "y": round(y, 1),
                "label_x": round(lx, 1), "label_y": round(ly, 1), "anchor": anchor,
                "rating": rating or "unrated",
                "rating_label": labels.get(rating, str(rating)),
                "symbol": SYMBOLS.get(rating, "?"),
                "resources": answers.get(f"{dimension}_resources") or "",
                "concerns": answers.get(f"{dimension}_concerns") or "",
            })
        ratings = [answers.get(f"{d}_rating") for d in dimensions]
        # the side's title sits inside the triangle, parallel to its side and readable left to right
        mid_x, mid_y = _point(start, end, 0.5)
        angle = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
        if angle > 90:
            angle -= 180
        inward = _point((mid_x, mid_y), (400.0, 350.0), 0.22)
        sides.append({
            "id": side,
            "title": text(SIDE_TITLES[side], lang),
            "concerns": ratings.count("concern"),
            "resources": ratings.count("resource"),
            "title_x": round(inward[0], 1), "title_y": round(inward[1], 1), "angle": round(angle, 1),
            "markers": markers,
        })
    return sides


def remarks(response: Any) -> list[str]:
    """The scoring's remarks on a stored response (its flags' messages), if it has been scored."""
    score = getattr(response, "current_score", None)
    flags = getattr(score, "flags", None) or []
    return [str(flag.get("message", "")) for flag in flags if isinstance(flag, dict)]


def triangle(
    answers: Mapping[str, Any], definition: Definition, lang: str, notes: list[str] | None = None
) -> Markup:
    """The result view: the triangle (SVG), the scoring's remarks, and the content as a table per side."""
    sides = triangle_data(answers, definition, lang)
    points = " ".join(f"{x:g},{y:g}" for x, y in (APEX, LEFT, RIGHT))
    return render_plugin_template(
        __package__, "ics/triangle.html",
        sides=sides, points=points, lang=lang, centre=text(CENTRE_LABEL, lang),
        legend=[(code, SYMBOLS[code], label) for code, label in _rating_labels(definition, lang).items()
                if code is not None],
        title=definition.title(lang), remarks=notes or [],
    )


def rating_widget(
    item: Mapping[str, Any], definition: Definition, value: Any, lang: str, texts: Any
) -> Markup:
    """Radio buttons named after the item, with symbols; values are JSON codes, as in the standard control."""
    def option_label(option: Mapping[str, Any]) -> str:
        return texts.option(item, option, lang) if texts is not None else text(option["label"], lang)

    options = [
        {
            "value": code_key(o["code"]),
            "code": o["code"],
            "label": option_label(o),
            "symbol": SYMBOLS.get(o["code"], "?"),
            "checked": value == o["code"],
        }
        for o in definition.scale_options(item)
    ]
    return render_plugin_template(__package__, "ics/rating.html", item_id=item["id"], options=options)
