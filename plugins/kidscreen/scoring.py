"""KIDSCREEN-10 Index scoring (Ravens-Sieberer et al. 2010): raw sum 10-50; T-value from a norm table.

The T-value comes only from an installed norm pack (raw sum -> T-value for
this version, from the KIDSCREEN manual). It is never approximated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import ScoreResult, ScoringContext

SCORING_VERSION = "1"
ITEMS = tuple(f"k10_{n}" for n in range(1, 11))
REVERSED = frozenset({"k10_3", "k10_4"})


def scored_value(item: str, code: int) -> int:
    """Items 3 (sad) and 4 (lonely) count 6 - code, so "never" counts 5."""
    return 6 - code if item in REVERSED else code


def t_value_from(norms: Mapping[str, Any] | None, raw: int) -> float | None:
    """The T-value for ``raw`` in an installed norm pack, or None when there is no table."""
    lookup = (norms or {}).get("lookups", {}).get("t_value")
    if not lookup or lookup.get("from") != "raw":
        return None
    return lookup["table"].get(str(raw))


def score(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
    """Score KIDSCREEN-10 answers (item id -> code 1-5); all 10 items are required."""
    missing = [item for item in ITEMS if answers.get(item) is None]
    if missing:
        result = ScoreResult(valid=False, scores={"raw": None, "t_value": None})
        result.flag("missing_items", f"Not scored: all 10 items are required; missing {', '.join(missing)}.")
        return result
    raw = sum(scored_value(item, int(answers[item])) for item in ITEMS)
    t_value = t_value_from(context.norms if context else None, raw)
    result = ScoreResult(valid=True, scores={"raw": raw, "t_value": t_value})
    if t_value is None:
        result.flag("no_norm_table", "No T-value: no KIDSCREEN-10 norm table (raw sum -> T-value) is "
                    "installed for this version; the raw sum is shown.")
    return result
