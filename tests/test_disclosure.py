"""Small-cell suppression: an attacker with the published figures tries to recover every withheld count.

The attacker knows every published count and every published sum (totals,
n, margins a chart shows) and looks for the whole-number values a withheld
cell can take (mixed-integer programming, independent of the module's own
linear-programming audit). A count of 1-4 people must never be shown and
must never have only one possible value.
"""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from formengine.db import get_db
from formengine.registry import get_registry
from formengine.reports import progression_report
from formengine.reports.disclosure import Line, protect, protect_grid
from formengine.reports.programme import distributions
from tests.test_reports import TEST_PLUGINS, World, who5_answers

THRESHOLD = 5


def recoverable(true: dict, shown: dict, sums: list[tuple[list, object]], threshold: int = THRESHOLD) -> list:
    """Withheld small counts whose value the published figures pin down (empty: table is safe).

    ``true`` and ``shown`` map a cell to its real and published value (None = withheld); ``sums``
    are (parts, total) the reader knows add up.
    """
    shown_small = [k for k, v in shown.items() if v is not None and 0 < v < threshold]
    assert shown_small == [], f"small counts shown: {shown_small}"
    unknown = [k for k, v in shown.items() if v is None]
    if not unknown:
        return []
    index = {k: i for i, k in enumerate(unknown)}
    rows, rhs = [], []
    for parts, total in sums:
        row = np.zeros(len(unknown))
        constant = 0.0
        for part in parts:
            if part in index:
                row[index[part]] += 1
            else:
                constant += shown[part]
        if total in index:
            row[index[total]] -= 1
        else:
            constant -= shown[total]
        if row.any():
            rows.append(row)
            rhs.append(-constant)
        else:
            assert constant == 0
    found = []
    for key in unknown:
        if not 0 < true[key] < threshold:
            continue
        c = np.zeros(len(unknown))
        c[index[key]] = 1
        constraints = [LinearConstraint(np.array(rows), rhs, rhs)] if rows else []
        options = dict(integrality=np.ones(len(unknown)), bounds=Bounds(0, np.inf), constraints=constraints)
        low = milp(c, **options)
        high = milp(-c, **options)
        assert low.status == 0
        if high.status == 0 and round(-high.fun) == round(low.fun):
            found.append((key, true[key]))
    return found


def grid_sums(n_rows, n_cols):
    sums = [([("cell", r, c) for c in range(n_cols)], ("row", r)) for r in range(n_rows)]
    sums += [([("cell", r, c) for r in range(n_rows)], ("col", c)) for c in range(n_cols)]
    sums.append(([("row", r) for r in range(n_rows)], "all"))
    return sums


def grid_dicts(grid, protected):
    true, shown = {}, {}
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            true[("cell", r, c)] = value
            shown[("cell", r, c)] = protected.cells[r][c]
        true[("row", r)] = sum(row)
        shown[("row", r)] = protected.row_totals[r]
    for c in range(len(grid[0])):
        true[("col", c)] = sum(row[c] for row in grid)
        shown[("col", c)] = protected.column_totals[c]
    true["all"], shown["all"] = sum(map(sum, grid)), protected.total
    return true, shown


def test_single_small_cell_gets_a_complement_in_its_row_and_column():
    grid = [[2, 10, 12], [9, 11, 14], [20, 7, 8]]
    protected = protect_grid(grid, THRESHOLD)
    assert protected.cells[0][0] is None
    withheld = sum(c is None for row in protected.cells for c in row)
    assert withheld >= 4  # a rectangle: two in its row, two in its column
    assert protected.total == sum(map(sum, grid)) and None not in protected.row_totals
    true, shown = grid_dicts(grid, protected)
    assert recoverable(true, shown, grid_sums(3, 3)) == []


def test_nothing_small_nothing_withheld_and_zero_is_shown():
    grid = [[0, 10], [5, 7]]
    protected = protect_grid(grid, THRESHOLD)
    assert protected.cells == grid and not protected.any_withheld


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_never_give_a_small_count_away(seed):
    rng = random.Random(seed)
    n_rows, n_cols = rng.randint(1, 5), rng.randint(1, 5)
    grid = [[rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9, 15, 30]) for _ in range(n_cols)] for _ in range(n_rows)]
    protected = protect_grid(grid, THRESHOLD)
    true, shown = grid_dicts(grid, protected)
    assert recoverable(true, shown, grid_sums(n_rows, n_cols)) == []


def test_a_bridge_between_two_blocks_is_caught_by_the_audit():
    # parts that add up along a chain: each line has two withheld members, yet the middle one is pinned
    counts = {"a": 3, "b": 20, "c": 2, "d": 30, "ab": 23, "bc": 22, "cd": 32}
    lines = [Line(("a", "b"), "ab"), Line(("b", "c"), "bc"), Line(("c", "d"), "cd")]
    shown = protect(counts, lines, THRESHOLD)
    sums = [(list(line.parts), line.total) for line in lines]
    assert shown["a"] is None and shown["c"] is None
    assert recoverable(counts, shown, sums) == []


def test_threshold_is_configurable():
    assert protect_grid([[3, 30], [40, 50]], 3).cells == [[3, 30], [40, 50]]
    assert protect_grid([[3, 30], [40, 50]], 10).cells[0][0] is None


# -- the report tables ----------------------------------------------------------
def _shift_world(app, seed):
    """WHO-5 pairs with a few people in rare bands, plus some first-only people."""
    rng = random.Random(seed)
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        place = world.municipality("Theta")
        for i in range(30):
            family = world.family(place, f"T{i}", enrolled_on=date(2024, 1, 1))
            person = world.person(family, name=f"t{i}")
            first = rng.choice([8, 40, 40, 48, 60, 60, 64, 72])
            world.respond("who5", who5_answers(first), person, world.wave(family, 1))
            if i % 9:
                second = max(0, min(100, first + rng.choice([-12, 0, 8, 12, 20, 28])))
                world.respond("who5", who5_answers(second - second % 4), person, world.wave(family, 2))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_progression_tables_withhold_small_counts_and_their_complements(app, seed):
    _shift_world(app, seed)
    with get_db(app).session() as session:
        report = progression_report(session, get_registry(app).get("who5"), "percent", 1, 2)
    data = report.to_dict(THRESHOLD)
    bands = data["bands"]
    true = {"n_paired": report.stats.n}
    shown = {"n_paired": data["n_paired"]}
    sums = []
    for i, a in enumerate(bands):
        for j, b in enumerate(bands):
            true[(a, b)] = report.shift.get((a, b), 0)
            shown[(a, b)] = data["shift"][i][j]
        # the chart shows each band's share at both measurements, so the margins are published
        true[("from", a)] = sum(report.shift.get((a, b), 0) for b in bands)
        true[("to", a)] = sum(report.shift.get((b, a), 0) for b in bands)
        shown[("from", a)], shown[("to", a)] = data["shift_from"][i], data["shift_to"][i]
        sums.append(([(a, b) for b in bands], ("from", a)))
        sums.append(([(b, a) for b in bands], ("to", a)))
    sums.append(([("from", a) for a in bands], "n_paired"))
    sums.append(([("to", a) for a in bands], "n_paired"))
    for key, value in report.directions.items():
        true[("dir", key)], shown[("dir", key)] = value, data["directions"][key]
    sums.append(([("dir", k) for k in report.directions], "n_paired"))
    assert any(v is None for v in shown.values()), "the data should have small cells to protect"
    assert recoverable(true, shown, sums) == []


@pytest.fixture
def rapp(make_app):
    return make_app(EXTRA_PLUGINS=TEST_PLUGINS)


def test_programme_distributions_withhold_small_counts_and_their_complements(rapp):
    registry = get_registry(rapp)
    with get_db(rapp).session() as session:
        world = World(session, registry)
        places = [world.municipality("Iota"), world.municipality("Kappa")]
        homes = [[1] * 9 + [2] * 2 + [3] * 7, [1] * 3 + [3] * 12]
        for place, values in zip(places, homes, strict=True):
            for i, home in enumerate(values):
                family = world.family(place, f"{place.name}{i}")
                person = world.person(family, role="child", name=f"c{i}")
                answers = {"home": home, "siblings": i % 7 == 0}
                world.respond("tbackground", answers, person, world.wave(family, 1))
        table = distributions(session, registry.get("tbackground"), by="municipality").protect(THRESHOLD)
    for item in table.items:
        codes = [code for code, _label in item.categories]
        true, shown, sums = {}, {}, []
        for key, _heading in table.columns:
            for code in codes:
                true[(key, code)] = item.counts.get(key, {}).get(code, 0)
                shown[(key, code)] = item.shown[key][code]
                if shown[(key, code)] is not None:  # the share is shown exactly when the count is
                    assert item.shown_share(key, code) == pytest.approx(true[(key, code)] / item.n[key])
                else:
                    assert item.shown_share(key, code) is None
            true[(key, "n")], shown[(key, "n")] = item.n[key], item.shown_n[key]
            sums.append(([(key, code) for code in codes], (key, "n")))
        assert recoverable(true, shown, sums) == []
    home = table.items[0]
    assert None in home.shown[table.columns[0][0]].values()
