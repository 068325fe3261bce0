"""LØFT worksheet summary: the mean of the goals' 0-10 scalings and how many goals were scaled.

LØFT has no psychometric score; it tracks one number per goal over time (the
scaling). The mean is a convenience for reports. A goal is followed across
worksheets by its goal number (``goal_no``), which the team member keeps the
same for the same goal; two goals with one number cannot be told apart, so
that worksheet is marked not valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import ScoreResult, ScoringContext, round_half_up

SCORING_VERSION = "1"


def goal_entries(answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The goal entries of one answer set (entries that are not objects are ignored)."""
    goals = answers.get("goals") or []
    return [entry for entry in goals if isinstance(entry, Mapping)] if isinstance(goals, list) else []


def summarise(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
    """Mean scaling over the goals that have one (1 decimal, half up) and the number of goals scaled."""
    goals = goal_entries(answers)
    scalings = [entry["scaling"] for entry in goals if entry.get("scaling") is not None]
    if not scalings:
        result = ScoreResult(valid=False, scores={"mean_scaling": None, "goals_scaled": 0})
        result.flag("no_scaling", "No goal has a scaling, so there is nothing to follow.")
        return result

    result = ScoreResult(valid=True, scores={
        "mean_scaling": round_half_up(sum(scalings) / len(scalings), 1),
        "goals_scaled": len(scalings),
    })
    numbers = [entry.get("goal_no") for entry in goals]
    if any(number is None for number in numbers):
        result.valid = False
        result.flag("goal_without_number", "A goal has no goal number, so it cannot be followed over time.")
    given = [n for n in numbers if n is not None]
    repeated = sorted({n for n in given if given.count(n) > 1})
    if repeated:
        result.valid = False
        result.flag(
            "repeated_goal_number",
            "Two goals share a goal number (" + ", ".join(map(str, repeated)) + "); give each goal its own.",
        )
    if any(entry.get("scaling") is not None and not entry.get("scaled_on") for entry in goals):
        result.flag("scaling_without_date", "A scaling has no date; the worksheet's date is used instead.")
    if any(entry.get("scaling") is None for entry in goals):
        result.flag("goal_not_scaled", "A goal has no scaling yet; the mean is over the scaled goals.")
    return result
