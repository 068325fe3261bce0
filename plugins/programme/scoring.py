"""Fidelity scoring: three indexes, each the mean of its answered questions (1-5, two decimals).

A question left unanswered is left out of its index's mean, as the source
evaluation did; an index with no answered question is null. The result is
valid when at least one index could be computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import ScoreResult, ScoringContext, round_half_up

SCORING_VERSION = "1"

INDEXES = {
    "detection": [f"fid_det_{n}" for n in range(1, 10)],
    "assessment": [f"fid_ass_{n}" for n in range(1, 10)],
    "action_plan": [f"fid_act_{n}" for n in range(1, 12)],
}


def score_fidelity(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
    scores: dict[str, float | None] = {}
    result = ScoreResult(valid=True, scores=scores)
    for name, items in INDEXES.items():
        given = [int(answers[i]) for i in items if answers.get(i) is not None]
        scores[name] = round_half_up(sum(given) / len(given), 2) if given else None
        if given and len(given) < len(items):
            result.flag(f"partial_{name}", f"{name}: mean of {len(given)} of {len(items)} questions.")
        if not given:
            result.flag(f"empty_{name}", f"{name}: no question answered; the index is left empty.")
    result.valid = any(v is not None for v in scores.values())
    return result
