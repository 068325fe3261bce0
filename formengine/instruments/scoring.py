"""The scoring contract: what an instrument's scoring function returns.

Scoring is pure: a function from an answer set (item id -> code) to a
:class:`ScoreResult`. It never touches Flask or the database, so it can be
tested against published scoring rules and re-run on stored answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def round_half_up(value: float, ndigits: int = 0) -> float | int:
    """Round half away from zero, as a person rounds a score: 2.5 -> 3, -2.5 -> -3, -0.25 -> -0.3 (1 digit).

    Python's ``round()`` rounds half to even (2.5 -> 2), which silently shifts
    questionnaire scores. The number rounded is the float's shortest decimal
    form (``repr``), so 2.675 -> 2.68 at two digits, as a person reading
    "2.675" expects, and 0.49999999999999994 -> 0 (it is below one half).
    This equals ``decimal``'s ``ROUND_HALF_UP`` on ``Decimal(repr(value))``.
    With ``ndigits == 0`` an ``int`` is returned, otherwise a float. NaN and
    infinities raise ``ValueError``.
    """
    if ndigits == 0:
        if isinstance(value, int):
            return value
        if not math.isfinite(value):
            raise ValueError(f"cannot round {value!r}")
        # Exact in binary floating point: floor and the fraction lose nothing, and
        # a float is exactly k + 0.5 exactly when its shortest decimal form is.
        magnitude = abs(value)
        whole = math.floor(magnitude)
        if magnitude - whole >= 0.5:
            whole += 1
        return -whole if value < 0 else whole
    if not math.isfinite(value):
        raise ValueError(f"cannot round {value!r}")
    quantum = Decimal(1).scaleb(-ndigits)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


FLAG_LEVELS = ("info", "warning", "alert")
SCORING_FAILED = "scoring_failed"
# Codes the core explains in the reader's language itself (formengine.web.flag_texts); every
# other code a scoring returns needs the definition's ``flag_texts`` in Danish and English.
CONVENTIONAL_FLAG_CODES = frozenset({"missing_items", "prorated", "scale_missing", "no_norm_table",
                                     SCORING_FAILED})


@dataclass(frozen=True)
class Flag:
    """A remark on a result, e.g. ``missing_items`` or ``prorated``, with its level.

    ``level`` says how much it matters to the team member: ``info`` (how the
    result was computed, e.g. prorated), ``warning`` (read the result with
    care, e.g. too many missing items) or ``alert`` (the instrument's published
    guidance asks for follow-up, e.g. a very high band). Alerts are shown
    prominently until a team member acknowledges them, and each one is passed
    to the ``formengine_alert`` hook.
    """

    code: str
    message: str
    level: str = "info"

    def __post_init__(self) -> None:
        if self.level not in FLAG_LEVELS:
            levels = ", ".join(FLAG_LEVELS)
            raise ValueError(f"flag {self.code!r}: level {self.level!r} is not one of {levels}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "level": self.level}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Flag:
        """Read a stored flag; flags stored before levels existed are ``info``."""
        return cls(data["code"], data["message"], data.get("level", "info"))


@dataclass(frozen=True)
class ScoringContext:
    """What scoring may know besides the answers, all plain data.

    ``norms`` holds an installed norm pack for the instrument (or None);
    ``options`` holds municipality settings such as an alternative band scheme.
    """

    norms: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ScoreResult:
    """The outcome of scoring one answer set.

    ``scores`` has every declared score name, with ``None`` where it cannot
    be computed; ``bands`` only has entries for scores with a value and a
    band scheme; ``flags`` explain anything a reader must know.

    ``error`` is set by the core, never by a plugin: the plugin's scoring
    raised (see :meth:`scoring_failed`), so there are no scores, only the
    stored answers and a ``scoring_failed`` flag naming the plugin.
    """

    valid: bool
    scores: dict[str, float | int | None]
    bands: dict[str, str] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    error: str | None = None

    def flag(self, code: str, message: str, level: str = "info") -> None:
        """Add a flag once (a second flag with the same code is ignored)."""
        if all(f.code != code for f in self.flags):
            self.flags.append(Flag(code, message, level))

    def flag_codes(self) -> list[str]:
        return [f.code for f in self.flags]

    def alerts(self) -> list[Flag]:
        """The flags of level ``alert``."""
        return [f for f in self.flags if f.level == "alert"]

    def to_dict(self) -> dict[str, Any]:
        data = {
            "valid": self.valid,
            "scores": dict(self.scores),
            "bands": dict(self.bands),
            "flags": [f.to_dict() for f in self.flags],
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreResult:
        return cls(
            valid=bool(data["valid"]),
            scores=dict(data.get("scores", {})),
            bands=dict(data.get("bands", {})),
            flags=[Flag.from_dict(f) for f in data.get("flags", [])],
            error=data.get("error"),
        )

    @classmethod
    def scoring_failed(cls, score_names: list[str], plugin: str, error_class: str) -> ScoreResult:
        """The result stored when a plugin's scoring raised: no scores, a flag naming the plugin.

        Only the plugin's name and the error's class are kept, never its
        message (it may quote answers).
        """
        error = f"plugin {plugin!r} raised {error_class}"
        result = cls(valid=False, scores=dict.fromkeys(score_names), error=error)
        result.flag(SCORING_FAILED, f"Scoring failed: {error}. The answers are kept; "
                    "rescore once the plugin is fixed.", "warning")
        return result


def band_for(value: float | int | None, bands: list[tuple[str, float, float]]) -> str | None:
    """Return the band code whose inclusive ``(code, low, high)`` range holds ``value``."""
    if value is None:
        return None
    for code, low, high in bands:
        if low <= value <= high:
            return code
    return None
