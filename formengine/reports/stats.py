"""Paired statistics for progression reports (pure: numbers in, numbers out)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import t as student_t


@dataclass(frozen=True)
class PairedStats:
    """Summary of paired measurements (first -> second) for the people measured at both.

    ``ci95`` is the 95 % confidence interval of the mean change from the
    paired t distribution (n - 1 degrees of freedom); ``effect_size`` is the
    mean change divided by the standard deviation of the changes (Cohen's
    d_z). Both are None when they cannot be computed (fewer than two pairs,
    or no spread in the changes for the effect size).
    """

    n: int
    mean_from: float | None
    mean_to: float | None
    mean_change: float | None
    sd_change: float | None
    ci95: tuple[float, float] | None
    effect_size: float | None


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, None for no values."""
    return math.fsum(values) / len(values) if values else None


def sample_sd(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1 denominator), None below two values."""
    if len(values) < 2:
        return None
    centre = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1))


def paired_stats(pairs: Sequence[tuple[float, float]], confidence: float = 0.95) -> PairedStats:
    """Means, mean change, its paired-t confidence interval and the standardised effect size."""
    n = len(pairs)
    if n == 0:
        return PairedStats(0, None, None, None, None, None, None)
    before = [float(a) for a, _ in pairs]
    after = [float(b) for _, b in pairs]
    changes = [b - a for a, b in zip(before, after, strict=True)]
    change = mean(changes)
    sd = sample_sd(changes)
    ci = None
    effect = None
    if sd is not None:
        half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
        ci = (change - half, change + half)
        if sd > 0:
            effect = change / sd
    return PairedStats(n, mean(before), mean(after), change, sd, ci, effect)
