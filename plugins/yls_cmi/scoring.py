"""YLS/CMI scoring (Hoge & Andrews, MHS): domain sums, total 0-42 with its band, strengths, final level.

A professional assessment is complete or not scored: all 42 items are
required. Domain bands come only from an installed norm pack; the total band
uses the 2002 manual's cut-offs unless a norm pack replaces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import AnswerError, ScoreResult, ScoringContext, band_for

SCORING_VERSION = "1"

DOMAINS: dict[str, tuple[str, ...]] = {
    name: tuple(f"yls_{number}_{k}" for k in range(1, size + 1))
    for number, name, size in (
        (1, "offences", 5), (2, "family", 6), (3, "education", 7), (4, "peers", 4),
        (5, "substance", 5), (6, "leisure", 3), (7, "personality", 7), (8, "attitudes", 5),
    )
}
ITEMS = tuple(item for items in DOMAINS.values() for item in items)
STRENGTHS = tuple(f"yls_{number}_strength" for number in range(2, 9))
SCORE_NAMES = (*DOMAINS, "total", "strengths")

# Default total cut-offs (2002 manual, as widely cited); a norm pack's "bands.total" replaces them.
DEFAULT_TOTAL_BANDS = [("low", 0, 8), ("moderate", 9, 22), ("high", 23, 34), ("very_high", 35, 42)]


def _pack_bands(norms: Mapping[str, Any] | None, name: str) -> list[tuple[str, int, int]] | None:
    entries = (norms or {}).get("bands", {}).get(name)
    if not entries:
        return None
    return [(e["band"], e["min"], e["max"]) for e in entries]


def score(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
    """Score a YLS/CMI assessment (item id -> 0 absent / 1 present; strengths yes/no; optional override)."""
    override = answers.get("override_level")
    reason = answers.get("override_reason")
    if override is not None and not (isinstance(reason, str) and reason.strip()):
        # The answer schema already requires the key; a blank text is no reason either.
        raise AnswerError(["override_reason: a reason is required when override_level is given"])

    missing = [item for item in ITEMS if answers.get(item) is None]
    if missing:
        result = ScoreResult(valid=False, scores=dict.fromkeys(SCORE_NAMES))
        result.flag("missing_items", f"Not scored: all 42 items are required; {len(missing)} missing "
                    f"({', '.join(missing)}).")
        return result

    norms = context.norms if context else None
    scores: dict[str, int | None] = {
        name: sum(int(answers[i]) for i in items) for name, items in DOMAINS.items()
    }
    scores["total"] = sum(scores[name] for name in DOMAINS)  # type: ignore[misc]
    scores["strengths"] = sum(1 for item in STRENGTHS if answers.get(item) is True)
    result = ScoreResult(valid=True, scores=scores)

    total_band = band_for(scores["total"], _pack_bands(norms, "total") or DEFAULT_TOTAL_BANDS)
    result.bands["total"] = total_band
    domain_bands = 0
    for name in DOMAINS:
        ranges = _pack_bands(norms, name)
        if ranges:
            band = band_for(scores[name], ranges)
            if band is not None:
                result.bands[name] = band
                domain_bands += 1
    if domain_bands < len(DOMAINS):
        result.flag("no_norm_table", "Domain levels not shown: no licensed YLS/CMI norm pack with domain "
                    "cut-offs is installed.")
    if override is not None:
        result.bands["final_level"] = override
        result.flag("override", f"Final level set by professional override to {override} "
                    f"(the total gives {total_band}).")
    else:
        result.bands["final_level"] = total_band
    if result.bands["final_level"] == "very_high":
        # Hoge & Andrews, YLS/CMI manual (2002): very high risk calls for the most
        # intensive supervision and services, so the case plan must be followed up.
        result.flag("very_high_risk", "Final risk level is very high (YLS/CMI manual, Hoge & Andrews 2002): "
                    "review the case plan.", "alert")
    return result
