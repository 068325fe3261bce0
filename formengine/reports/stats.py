"""Statistics for progression reports (pure: numbers in, numbers out; distributions from scipy).

Effect sizes, each named for what it divides by:

- ``d_z``: mean change / SD of the changes (Cohen's d_z, the paired t's own scale);
- ``d_baseline``: mean change / SD at the first measurement (Cohen's d on the baseline SD,
  comparable with between-group effect sizes);
- ``hedges_g``: ``d_baseline`` times the small-sample correction J = 1 - 3 / (4 (n - 1) - 1).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

RCI_CRITICAL = 1.96  # two-sided 5 % for the Reliable Change Index (Jacobson & Truax 1991)


@dataclass(frozen=True)
class PairedStats:
    """Summary of paired measurements (first -> second) for the people measured at both.

    ``ci95`` is the 95 % confidence interval of the mean change from the
    paired t distribution (n - 1 degrees of freedom). ``p_t`` is the two-sided
    p-value of the paired t-test, ``p_wilcoxon`` that of the Wilcoxon
    signed-rank test (scipy's default: exact for small samples without ties,
    else the normal approximation; zero changes dropped). Figures that cannot
    be computed (too few pairs, no spread) are None.
    """

    n: int
    mean_from: float | None
    mean_to: float | None
    mean_change: float | None
    sd_change: float | None
    ci95: tuple[float, float] | None
    d_z: float | None
    sd_from: float | None = None
    d_baseline: float | None = None
    hedges_g: float | None = None
    t: float | None = None
    p_t: float | None = None
    wilcoxon_w: float | None = None
    p_wilcoxon: float | None = None

    @property
    def effect_size(self) -> float | None:
        """The former name of ``d_z`` (kept for scripts reading the JSON)."""
        return self.d_z


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, None for no values."""
    return math.fsum(values) / len(values) if values else None


def sample_sd(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1 denominator), None below two values."""
    if len(values) < 2:
        return None
    centre = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1))


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def paired_stats(pairs: Sequence[tuple[float, float]], confidence: float = 0.95) -> PairedStats:
    """Means, mean change with its paired-t interval and p-value, Wilcoxon, and the effect sizes."""
    import numpy as np  # imported when a statistic is computed: scipy costs ~70 MB in every process
    from scipy import stats as scipy_stats

    n = len(pairs)
    if n == 0:
        return PairedStats(0, None, None, None, None, None, None)
    before = [float(a) for a, _ in pairs]
    after = [float(b) for _, b in pairs]
    changes = [b - a for a, b in zip(before, after, strict=True)]
    change = math.fsum(changes) / n
    sd = sample_sd(changes)
    sd_from = sample_sd(before)
    ci = d_z = t = p_t = None
    if sd is not None:
        half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
        ci = (change - half, change + half)
        if sd > 0:
            d_z = change / sd
            t = change / (sd / math.sqrt(n))
            p_t = float(2 * scipy_stats.t.sf(abs(t), n - 1))
    d_baseline = change / sd_from if sd_from else None
    hedges_g = d_baseline * (1 - 3 / (4 * (n - 1) - 1)) if d_baseline is not None and n > 2 else None
    w = p_w = None
    if any(c != 0 for c in changes):
        with warnings.catch_warnings():  # nearly equal changes: scipy warns, the p-value is still given
            warnings.simplefilter("ignore", RuntimeWarning)
            result = scipy_stats.wilcoxon(np.array(changes))
        w, p_w = _finite(result.statistic), _finite(result.pvalue)
    return PairedStats(n, mean(before), mean(after), change, sd, ci, d_z, sd_from, d_baseline, hedges_g,
                       t, p_t, w, p_w)


@dataclass(frozen=True)
class BandTest:
    """A test of marginal homogeneity on a band-shift table: did the distribution over bands change?"""

    name: str  # "mcnemar_exact" (two bands) or "stuart_maxwell"
    statistic: float | None
    df: int | None
    p: float | None


def band_shift_test(table: Sequence[Sequence[int]]) -> BandTest | None:
    """McNemar's exact test for two bands, the Stuart-Maxwell test for more.

    ``table[i][j]`` counts people in band i at the first and band j at the
    second measurement. Bands nobody was in at either measurement are left
    out. None when fewer than two bands remain or the test is undefined
    (nobody changed band).
    """
    import numpy as np  # imported when a statistic is computed: scipy costs ~70 MB in every process
    from scipy import stats as scipy_stats

    counts = np.array(table, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError("a band-shift table is square")
    used = [i for i in range(counts.shape[0]) if counts[i, :].sum() + counts[:, i].sum() > 0]
    counts = counts[np.ix_(used, used)]
    k = len(used)
    if k < 2:
        return None
    if k == 2:
        b, c = int(counts[0, 1]), int(counts[1, 0])
        if b + c == 0:
            return None
        p = scipy_stats.binomtest(b, b + c, 0.5).pvalue
        return BandTest("mcnemar_exact", float(min(b, c)), None, float(p))
    row, col = counts.sum(axis=1), counts.sum(axis=0)
    d = (row - col)[:-1]
    s = -(counts + counts.T)
    np.fill_diagonal(s, row + col - 2 * np.diag(counts))
    s = s[:-1, :-1]
    try:
        statistic = float(d @ np.linalg.solve(s, d))
    except np.linalg.LinAlgError:
        return None
    df = k - 1
    return BandTest("stuart_maxwell", statistic, df, float(scipy_stats.chi2.sf(statistic, df)))


def reliable_change_index(first: float, second: float, sd: float, reliability: float) -> float:
    """(second - first) / S_diff, S_diff = sqrt(2) * sd * sqrt(1 - reliability) (Jacobson & Truax 1991)."""
    s_diff = math.sqrt(2.0) * sd * math.sqrt(1.0 - reliability)
    return (second - first) / s_diff


def rci_direction(rci: float, higher_is: str | None) -> str:
    """"improved", "deteriorated" or "unchanged" (|RCI| below 1.96); "changed" without ``higher_is``."""
    if abs(rci) < RCI_CRITICAL:
        return "unchanged"
    if higher_is == "better":
        return "improved" if rci > 0 else "deteriorated"
    if higher_is == "worse":
        return "improved" if rci < 0 else "deteriorated"
    return "changed"


@dataclass(frozen=True)
class GroupComparison:
    """Baseline values of two groups (completers vs non-completers): means, SDs and Welch's t-test."""

    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    sd_a: float | None
    sd_b: float | None
    difference: float | None
    p_welch: float | None


def compare_groups(a: Sequence[float], b: Sequence[float]) -> GroupComparison:
    """Compare two independent groups' values (Welch's t-test, unequal variances)."""
    import numpy as np  # imported when a statistic is computed: scipy costs ~70 MB in every process
    from scipy import stats as scipy_stats

    mean_a, mean_b = mean(a), mean(b)
    p = None
    sd_a, sd_b = sample_sd(a), sample_sd(b)
    if sd_a is not None and sd_b is not None and (sd_a > 0 or sd_b > 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = _finite(scipy_stats.ttest_ind(np.array(a), np.array(b), equal_var=False).pvalue)
    diff = mean_a - mean_b if mean_a is not None and mean_b is not None else None
    return GroupComparison(len(a), len(b), mean_a, mean_b, sd_a, sd_b, diff, p)
