"""Paired statistics for progression reports (pure: numbers in, numbers out)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


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
    change = math.fsum(changes) / n
    sd = sample_sd(changes)
    ci = None
    effect = None
    if sd is not None:
        half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
        ci = (change - half, change + half)
        if sd > 0:
            effect = change / sd
    return PairedStats(n, mean(before), mean(after), change, sd, ci, effect)


# -- Student's t distribution ------------------------------------------------
# Computed here rather than imported: a statistics library would add tens of
# megabytes to every process for one number per report.

def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function, evaluated with the modified Lentz method."""
    tiny = 1e-300

    def guard(value: float) -> float:
        return tiny if abs(value) < tiny else value

    c = 1.0
    d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0))
    result = d
    for m in range(1, 1000):
        # even step
        numerator = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        d = 1.0 / guard(1.0 + numerator * d)
        c = guard(1.0 + numerator / c)
        result *= d * c
        # odd step
        numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        d = 1.0 / guard(1.0 + numerator * d)
        c = guard(1.0 + numerator / c)
        step = d * c
        result *= step
        if abs(step - 1.0) < 1e-16:
            break
    return result


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(log_front)
    # the fraction converges fast on this side of the mean; use the symmetry otherwise
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value with P(T <= t) = p (0 < p < 1), found by bisection to machine precision."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must lie strictly between 0 and 1")
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0
