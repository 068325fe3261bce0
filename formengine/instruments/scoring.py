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
    """Round half away from zero for positive scores: ``floor(x + 0.5)``.

    Python's ``round()`` rounds half to even (2.5 -> 2), which silently shifts
    questionnaire scores. With ``ndigits == 0`` an ``int`` is returned;
    otherwise a float rounded half up at that many decimals (via Decimal, so
    2.675 -> 2.68 as a person would expect, not 2.67).
    """
    if ndigits == 0:
        return int(math.floor(value + 0.5))
    quantum = Decimal(1).scaleb(-ndigits)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Flag:
    """A validity remark on a result, e.g. ``missing_items`` or ``prorated``."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


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
    """

    valid: bool
    scores: dict[str, float | int | None]
    bands: dict[str, str] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)

    def flag(self, code: str, message: str) -> None:
        """Add a flag once (a second flag with the same code is ignored)."""
        if all(f.code != code for f in self.flags):
            self.flags.append(Flag(code, message))

    def flag_codes(self) -> list[str]:
        return [f.code for f in self.flags]

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "scores": dict(self.scores),
            "bands": dict(self.bands),
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreResult:
        return cls(
            valid=bool(data["valid"]),
            scores=dict(data.get("scores", {})),
            bands=dict(data.get("bands", {})),
            flags=[Flag(f["code"], f["message"]) for f in data.get("flags", [])],
        )


def band_for(value: float | int | None, bands: list[tuple[str, float, float]]) -> str | None:
    """Return the band code whose inclusive ``(code, low, high)`` range holds ``value``."""
    if value is None:
        return None
    for code, low, high in bands:
        if low <= value <= high:
            return code
    return None
