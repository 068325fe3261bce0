"""ICS worksheet summary: per side of the triangle, how many dimensions are rated resource or concern.

The worksheet has no psychometric score (see ../shared/instruments/worksheets.md);
the counts are a plain summary for the result view and for reports. A worksheet
with no rating at all has nothing to summarise and is marked not valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import ScoreResult, ScoringContext

SCORING_VERSION = "1"

# The three sides of the ICS triangle and their dimensions, in the order they are drawn.
SIDES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("child", ("health", "development", "school", "leisure")),
    ("parenting", ("safe_care", "stimulation", "relations")),
    ("family", ("family", "housing", "network")),
)
DIMENSIONS = tuple(dimension for _, dimensions in SIDES for dimension in dimensions)
RATINGS = ("resource", "neutral", "concern", "not_assessed")


def summarise(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
    """Count resource and concern ratings per side; flag unrated dimensions and undescribed concerns."""
    ratings = {dimension: answers.get(f"{dimension}_rating") for dimension in DIMENSIONS}
    if all(rating is None for rating in ratings.values()):
        result = ScoreResult(valid=False, scores={})
        for side, _ in SIDES:
            result.scores[f"{side}_concerns"] = None
            result.scores[f"{side}_resources"] = None
        result.flag("no_ratings", "No dimension has a rating, so there is nothing to summarise.")
        return result

    result = ScoreResult(valid=True, scores={})
    for side, dimensions in SIDES:
        side_ratings = [ratings[d] for d in dimensions]
        result.scores[f"{side}_concerns"] = side_ratings.count("concern")
        result.scores[f"{side}_resources"] = side_ratings.count("resource")

    unrated = [d for d in DIMENSIONS if ratings[d] is None]
    if unrated:
        result.flag(
            "unrated_dimensions",
            f"{len(unrated)} of {len(DIMENSIONS)} dimensions have no rating: {', '.join(unrated)}.",
        )
    undescribed = [
        d for d in DIMENSIONS
        if ratings[d] == "concern" and not str(answers.get(f"{d}_concerns") or "").strip()
    ]
    if undescribed:
        result.flag(
            "concern_not_described",
            "Rated as a concern without describing the concern: " + ", ".join(undescribed) + ".",
        )
    return result
