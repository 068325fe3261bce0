"""WHO-5 scoring: raw sum 0-25, percent = raw x 4, bands on percent (Topp et al. 2015).

All five items are required (project rule; no official prorating rule exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formengine.api import ScoreResult, ScoringContext, band_for

ITEMS = ("who5_1", "who5_2", "who5_3", "who5_4", "who5_5")
SCORING_VERSION = "1"

# Inclusive ranges on percent. Percent only takes multiples of 4, so the gaps
# (29-31, 51) can never be hit.
BAND_SCHEMES = {
    "topp2015": [("likely_depression", 0, 28), ("poor_wellbeing", 32, 50), ("good_wellbeing", 52, 100)],
    # Danish practice some municipalities choose as a setting: 0-35 / 36-50 / >50.
    "dk_practice": [("likely_depression", 0, 35), ("poor_wellbeing", 36, 50), ("good_wellbeing", 51, 100)],
}


def score(answers: Mapping[str, Any], context: ScoringContext | None = None) -> ScoreResult:
    missing = [item for item in ITEMS if answers.get(item) is None]
    if missing:
        result = ScoreResult(valid=False, scores={"raw": None, "percent": None})
        result.flag("missing_items", f"Not scored: all 5 items are required; missing {', '.join(missing)}.")
        return result
    raw = sum(int(answers[item]) for item in ITEMS)
    percent = raw * 4
    scheme = (context.options.get("who5_band_scheme") if context else None) or "topp2015"
    result = ScoreResult(valid=True, scores={"raw": raw, "percent": percent})
    if scheme not in BAND_SCHEMES:  # the settings form refuses it; a caller passing options directly may not
        raise ValueError(f"who5_band_scheme {scheme!r} is not one of {', '.join(BAND_SCHEMES)}")
    band = band_for(percent, BAND_SCHEMES[scheme])
    result.bands["percent"] = band
    if band == "likely_depression":
        # Topp et al. 2015 (Psychother Psychosom 84:167-176): a score of 28 or less
        # suggests likely depression and calls for further assessment.
        result.flag("likely_depression", f"Percent score {percent} is in the 'likely depression' band: "
                    "Topp et al. 2015 recommend assessment for depression.", "alert")
    return result
