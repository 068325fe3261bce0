"""Small-cell suppression: the one place that decides which counts of people a table may show.

Every table that counts people (programme distributions, band shifts,
attrition, municipalities side by side, the status report) passes its counts
through :func:`protect` (or :func:`protect_grid` for a rectangular table with
margins) and shows ``None`` cells as withheld.

The rules:

1. **Primary suppression.** A count of 1 to ``threshold - 1`` people is
   withheld (0 is shown: it stands for nobody).
2. **Complementary suppression.** A published total and the published cells
   that add up to it would give a withheld cell back by subtraction, so every
   line (a total and its parts) with exactly one withheld member gets a second
   one: the smallest non-zero part, else a zero part, else the total itself.
3. **Audit.** A pattern can still pin a withheld value through several lines
   at once (a withheld cell that bridges two blocks). For every primary cell
   the smallest and largest value consistent with everything published is
   computed by linear programming; while a primary cell has only one possible
   value, one more cell on one of its lines is withheld.

A share (percentage) is withheld with its count: share × n would reveal it.

The threshold is the installation's ``REPORT_MIN_GROUP`` (default 5).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

DEFAULT_THRESHOLD = 5
K = TypeVar("K", bound=Hashable)


def threshold_from(config: Mapping[str, Any] | None) -> int:
    """The installation's small-cell threshold (``REPORT_MIN_GROUP``, default 5, never below 1)."""
    value = (config or {}).get("REPORT_MIN_GROUP", DEFAULT_THRESHOLD)
    return max(1, int(value))


def is_small(count: int | None, threshold: int) -> bool:
    """True for a count of 1 to threshold - 1 people."""
    return count is not None and 0 < count < threshold


@dataclass(frozen=True)
class Line:
    """``sum(parts) == total``: a published total and the cells it adds up."""

    parts: tuple[Hashable, ...]
    total: Hashable


def _pick_complement(line: Line, counts: Mapping[Any, int], withheld: set[Any]) -> Any | None:
    open_parts = [k for k in line.parts if k not in withheld]
    positive = sorted((k for k in open_parts if counts[k] > 0), key=lambda k: (counts[k], repr(k)))
    if positive:
        return positive[0]
    if open_parts:
        return sorted(open_parts, key=repr)[0]
    if line.total not in withheld:
        return line.total
    return None


def _complete_lines(lines: Sequence[Line], counts: Mapping[Any, int], withheld: set[Any]) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            members = (*line.parts, line.total)
            if sum(1 for k in members if k in withheld) == 1:
                extra = _pick_complement(line, counts, withheld)
                if extra is not None:
                    withheld.add(extra)
                    changed = True


def feasible_range(key: Any, lines: Sequence[Line], published: Mapping[Any, int],
                   withheld: Iterable[Any]) -> tuple[float, float | None]:
    """Smallest and largest value of withheld ``key`` consistent with the published figures
    (None: no upper bound). Every count is at least 0."""
    from scipy.optimize import linprog  # a table without withheld cells never needs scipy

    unknown = sorted(set(withheld), key=repr)
    index = {k: i for i, k in enumerate(unknown)}
    rows, rhs = [], []
    for line in lines:
        coefficients = [0.0] * len(unknown)
        constant = 0.0
        for part in line.parts:
            if part in index:
                coefficients[index[part]] += 1.0
            else:
                constant += published[part]
        if line.total in index:
            coefficients[index[line.total]] -= 1.0
        else:
            constant -= published[line.total]
        if any(coefficients):
            rows.append(coefficients)
            rhs.append(-constant)
    objective = [0.0] * len(unknown)
    objective[index[key]] = 1.0
    bounds = [(0, None)] * len(unknown)
    kwargs: dict[str, Any] = {"bounds": bounds, "method": "highs"}
    if rows:
        kwargs.update(A_eq=rows, b_eq=rhs)
    low = linprog(objective, **kwargs)
    high = linprog([-c for c in objective], **kwargs)
    lowest = float(low.fun) if low.status == 0 else 0.0
    highest = float(-high.fun) if high.status == 0 else None
    return lowest, highest


def protect(counts: Mapping[K, int], lines: Sequence[Line] = (), threshold: int = DEFAULT_THRESHOLD,
            hidden: Iterable[K] = ()) -> dict[K, int | None]:
    """``counts`` with every count that must not be shown replaced by None.

    ``lines`` are the sums a reader can see (a total row, n, a grand total):
    their totals must be keys of ``counts`` too. ``hidden`` keys are parts
    of a sum that the table never shows (e.g. answers outside the listed
    categories); they are returned as None.
    """
    # a hidden part the reader can work out from its line is harmless unless it is small, and then it
    # is withheld like any small count
    withheld: set[Any] = {k for k, v in counts.items() if is_small(v, threshold)}
    hidden = set(hidden)
    if withheld:
        _complete_lines(lines, counts, withheld)
        primary = [k for k in counts if is_small(counts[k], threshold)]
        for _round in range(len(counts) + 1):
            pinned = None
            for key in primary:
                published = {k: v for k, v in counts.items() if k not in withheld}
                low, high = feasible_range(key, lines, published, withheld)
                if high is not None and high - low < 1 - 1e-6:
                    pinned = key
                    break
            if pinned is None:
                break
            extra = None
            for line in lines:
                if pinned in line.parts or pinned == line.total:
                    extra = _pick_complement(line, counts, withheld)
                    if extra is not None:
                        break
            if extra is None:
                break
            withheld.add(extra)
            _complete_lines(lines, counts, withheld)
    return {k: (None if k in withheld or k in hidden else v) for k, v in counts.items()}


@dataclass
class ProtectedGrid:
    """A table of counts after suppression: ``cells[row][column]``, margins and total (None = withheld)."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None

    @property
    def any_withheld(self) -> bool:
        return any(c is None for row in self.cells for c in row) or None in self.row_totals \
            or None in self.column_totals or self.total is None


def protect_grid(grid: Sequence[Sequence[int]], threshold: int = DEFAULT_THRESHOLD, *,
                 row_totals: bool = True, column_totals: bool = True, total: bool = True) -> ProtectedGrid:
    """Suppress a rectangular table of counts whose shown (or derivable) margins are named by the flags.

    A margin that is not shown anywhere, and cannot be worked out from
    another published figure, adds no line; it is still returned (protected
    like a cell) for callers that want it.
    """
    counts: dict[tuple[Any, ...], int] = {}
    n_rows = len(grid)
    n_cols = len(grid[0]) if grid else 0
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            counts[("cell", r, c)] = int(value)
    for r in range(n_rows):
        counts[("row", r)] = sum(int(v) for v in grid[r])
    for c in range(n_cols):
        counts[("col", c)] = sum(int(grid[r][c]) for r in range(n_rows))
    counts[("all",)] = sum(counts[("row", r)] for r in range(n_rows))
    lines: list[Line] = []
    if row_totals:
        lines += [Line(tuple(("cell", r, c) for c in range(n_cols)), ("row", r)) for r in range(n_rows)]
    if column_totals:
        lines += [Line(tuple(("cell", r, c) for r in range(n_rows)), ("col", c)) for c in range(n_cols)]
    if total:
        if row_totals:
            lines.append(Line(tuple(("row", r) for r in range(n_rows)), ("all",)))
        if column_totals:
            lines.append(Line(tuple(("col", c) for c in range(n_cols)), ("all",)))
        if not row_totals and not column_totals:
            lines.append(Line(tuple(counts.keys() - {("all",)} - {("row", r) for r in range(n_rows)}
                                    - {("col", c) for c in range(n_cols)}), ("all",)))
    out = protect(counts, lines, threshold)
    return ProtectedGrid(
        cells=[[out[("cell", r, c)] for c in range(n_cols)] for r in range(n_rows)],
        row_totals=[out[("row", r)] for r in range(n_rows)],
        column_totals=[out[("col", c)] for c in range(n_cols)],
        total=out[("all",)],
    )


def share(count: int | None, n: int | None) -> float | None:
    """count / n, withheld (None) when either is withheld or n is 0."""
    if count is None or not n:
        return None
    return count / n
