"""SDQ scoring per Youthinmind, "Scoring the SDQ for age 4-17 or 18+" (2016): parent, self, teacher.

Five scales of five items (0-10 each), prorated from 3 or 4 answered items;
total difficulties, externalising, internalising; the impact score from the
impact supplement; the four-band scheme of 2016 per version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import ScoreResult, ScoringContext, band_for, round_half_up

SCORING_VERSION = "1"

SCALES: dict[str, tuple[str, ...]] = {
    "emotional": ("somatic", "worries", "unhappy", "clingy", "afraid"),
    "conduct": ("tantrum", "obeys", "fights", "lies", "steals"),
    "hyperactivity": ("restles", "fidgety", "distrac", "reflect", "attends"),
    "peer": ("loner", "friend", "popular", "bullied", "oldbest"),
    "prosocial": ("consid", "shares", "caring", "kind", "helpout"),
}
REVERSED = frozenset({"obeys", "friend", "popular", "reflect", "attends"})
DIFFICULTY_SCALES = ("emotional", "conduct", "hyperactivity", "peer")

IMPACT_ITEMS: dict[str, tuple[str, ...]] = {
    "sdq_p4_17": ("distres", "imphome", "impfrie", "impclas", "impleis"),
    "sdq_s11_17": ("distres", "imphome", "impfrie", "impclas", "impleis"),
    "sdq_t4_17": ("distres", "imppeer", "impclas"),
}
# Impact answers 0 not at all, 1 only a little, 2 a medium amount, 3 a great deal.
IMPACT_RECODE = {0: 0, 1: 0, 2: 1, 3: 2}

RAISED = ("close_to_average", "slightly_raised", "high", "very_high")
LOWERED = ("close_to_average", "slightly_lowered", "low", "very_low")

# Upper edge of each band (inclusive), from the 2016 four-band tables; the
# last edge is the top of the score's range.
_UPPER_EDGES: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "sdq_p4_17": {
        "total_difficulties": (13, 16, 19, 40), "emotional": (3, 4, 6, 10), "conduct": (2, 3, 5, 10),
        "hyperactivity": (5, 7, 8, 10), "peer": (2, 3, 4, 10), "impact": (0, 1, 2, 10),
    },
    "sdq_t4_17": {
        "total_difficulties": (11, 15, 18, 40), "emotional": (3, 4, 5, 10), "conduct": (2, 3, 4, 10),
        "hyperactivity": (5, 7, 8, 10), "peer": (2, 4, 5, 10), "impact": (0, 1, 2, 6),
    },
    "sdq_s11_17": {
        "total_difficulties": (14, 17, 19, 40), "emotional": (4, 5, 6, 10), "conduct": (3, 4, 5, 10),
        "hyperactivity": (5, 6, 7, 10), "peer": (2, 3, 4, 10), "impact": (0, 1, 2, 10),
    },
}
# Prosocial runs the other way: the lower edge of each band, highest band first.
_PROSOCIAL_LOWER_EDGES = {"sdq_p4_17": (8, 7, 6, 0), "sdq_t4_17": (6, 5, 4, 0), "sdq_s11_17": (7, 6, 5, 0)}


def band_table(instrument_id: str) -> dict[str, list[tuple[str, int, int]]]:
    """Inclusive ``(band, low, high)`` ranges per score for one SDQ version."""
    table: dict[str, list[tuple[str, int, int]]] = {}
    for name, edges in _UPPER_EDGES[instrument_id].items():
        lows = (0,) + tuple(e + 1 for e in edges[:-1])
        table[name] = list(zip(RAISED, lows, edges, strict=True))
    lows = _PROSOCIAL_LOWER_EDGES[instrument_id]
    highs = (10,) + tuple(low - 1 for low in lows[:-1])
    table["prosocial"] = list(zip(LOWERED, lows, highs, strict=True))
    return table


BANDS = {instrument_id: band_table(instrument_id) for instrument_id in _UPPER_EDGES}


def scored_value(item: str, code: int) -> int:
    """The value an answer counts with: reversed items are recoded 2 - code."""
    return 2 - code if item in REVERSED else code


def _answered(answers: Mapping[str, Any], item: str) -> bool:
    return answers.get(item) is not None


def scale_score(answers: Mapping[str, Any], items: tuple[str, ...]) -> tuple[int | None, int]:
    """(score, number answered): 0-10 from at least 3 answered items, prorated half up."""
    values = [scored_value(i, int(answers[i])) for i in items if _answered(answers, i)]
    if len(values) < 3:
        return None, len(values)
    return round_half_up(sum(values) / len(values) * 5), len(values)


def impact_score(answers: Mapping[str, Any], instrument_id: str) -> int | None:
    """0 when ebddiff is 0; else the sum of the answered recoded impact items, or None if none.

    As in Youthinmind's syntax, an unanswered ebddiff does not stop the impact
    items that were answered (e.g. on paper) from counting.
    """
    if answers.get("ebddiff") == 0:
        return 0
    recoded = [IMPACT_RECODE[int(answers[i])] for i in IMPACT_ITEMS[instrument_id] if _answered(answers, i)]
    return sum(recoded) if recoded else None


def _sum(*parts: int | None) -> int | None:
    return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]


def score_for(instrument_id: str):
    """The scoring function of one SDQ version."""

    def score(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
        scores: dict[str, int | None] = {}
        prorated, missing = [], []
        for name, items in SCALES.items():
            value, answered = scale_score(answers, items)
            scores[name] = value
            if value is None:
                missing.append(f"{name} ({answered} of 5 answered)")
            elif answered < 5:
                prorated.append(f"{name} ({answered} of 5)")
        scores["total_difficulties"] = _sum(*(scores[s] for s in DIFFICULTY_SCALES))
        scores["externalising"] = _sum(scores["conduct"], scores["hyperactivity"])
        scores["internalising"] = _sum(scores["emotional"], scores["peer"])
        scores["impact"] = impact_score(answers, instrument_id)

        result = ScoreResult(valid=not missing, scores=scores)
        if prorated:
            result.flag("prorated", "Prorated from the answered items: " + ", ".join(prorated) + ".")
        if missing:
            result.flag("scale_missing", "Not scored: fewer than 3 of 5 items answered on "
                        + ", ".join(missing) + "; scores that depend on it are left empty.")
        if scores["impact"] is None:
            result.flag("impact_missing", "Impact not scored: the overall difficulties question "
                        "is not answered 'no' and none of the impact questions is answered.")
        for name, ranges in BANDS[instrument_id].items():
            band = band_for(scores[name], ranges)
            if band is not None:
                result.bands[name] = band
        very_high = [name for name, band in result.bands.items() if band == "very_high"]
        if very_high:
            # The 2016 four-band scheme (Goodman, sdqinfo.org): "very high" is roughly the
            # top 5% of the population, a substantial risk of clinically significant problems.
            result.flag("very_high", "Very high (SDQ four-band scheme, sdqinfo.org 2016) on: "
                        + ", ".join(very_high) + "; follow up.", "alert")
        return result

    score.__doc__ = f"Score {instrument_id} answers (item id -> code) per the 2016 SDQ scoring rules."
    return score
