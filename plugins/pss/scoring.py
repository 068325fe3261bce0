"""Parental Stress Scale scoring (Berry & Jones 1995): total 18-90, higher = more parental stress.

Missing data is the project's rule (no official rule exists): up to 2 missing
items are prorated half up; 3 or more leave the total empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import ScoreResult, ScoringContext, round_half_up

SCORING_VERSION = "1"
ITEMS = tuple(f"pss_{n}" for n in range(1, 19))
REVERSED = frozenset(f"pss_{n}" for n in (1, 2, 5, 6, 7, 8, 17, 18))
MAX_MISSING = 2


def scored_value(item: str, code: int) -> int:
    """Reversed (positively worded) items count 6 - code, so every item counts towards stress."""
    return 6 - code if item in REVERSED else code


def score(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
    """Score PSS answers (item id -> code 1-5)."""
    answered = [item for item in ITEMS if answers.get(item) is not None]
    missing = [item for item in ITEMS if item not in answered]
    if len(missing) > MAX_MISSING:
        result = ScoreResult(valid=False, scores={"total": None})
        result.flag("missing_items", f"Not scored: {len(missing)} of 18 items are missing "
                    f"(at most {MAX_MISSING} may be): {', '.join(missing)}.")
        return result
    values = [scored_value(item, int(answers[item])) for item in answered]
    result = ScoreResult(valid=True, scores={"total": round_half_up(sum(values) / len(values) * 18)})
    if missing:
        result.flag("prorated", f"Prorated from {len(answered)} of 18 items; missing {', '.join(missing)}.")
    return result
