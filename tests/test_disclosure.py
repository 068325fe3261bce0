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

from formengine import clock
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


def _attrition_world(app):
    """WHO-5: 14 people paired, and 8 measured once, for reasons of 1, 2 and 5 people."""
    from datetime import timedelta

    from formengine.models import Consent

    today = clock.today()
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        place = world.municipality("Rho")
        for i in range(22):
            family = world.family(place, f"R{i}", enrolled_on=today - timedelta(days=400))
            person = world.person(family, name=f"r{i}")
            world.respond("who5", who5_answers(40 + 4 * (i % 5)), person, world.wave(family, 1))
            second = world.wave(family, 2)
            if i < 14:
                world.respond("who5", who5_answers(48 + 4 * (i % 7)), person, second)
            elif i < 19:
                second.due_on = today - timedelta(days=100)  # missed: 5
            elif i < 21:
                second.due_on = today + timedelta(days=60)  # not yet due: 2
            else:
                session.add(Consent(person_id=person.id, municipality_id=place.id, given_by="x",
                                    given_on=today - timedelta(days=400), withdrawn_on=today))  # 1
        session.flush()
        return progression_report(session, get_registry(app).get("who5"), "percent", 1, 2)


def test_attrition_breakdown_cannot_be_worked_back_from_the_number_lost(app):
    report = _attrition_world(app)
    assert report.attrition == {"not_yet_due": 2, "closed_early": 0, "missed": 5, "consent_withdrawn": 1}
    data = report.to_dict(THRESHOLD)
    assert data["n_first_only"] == 8
    true = {("a", k): v for k, v in report.attrition.items()}
    shown = {("a", k): v for k, v in data["attrition"].items()}
    true["lost"], shown["lost"] = report.n_first_only, data["n_first_only"]
    assert shown[("a", "not_yet_due")] is None and shown[("a", "consent_withdrawn")] is None
    assert recoverable(true, shown, [([("a", k) for k in report.attrition], "lost")]) == []
    # the completers/non-completers table would describe 8 people: shown; the RCI needs a reliability
    assert data["baseline_comparison"]["n_non_completers"] == 8 and data["rci"] is None


def test_municipalities_side_by_side_cannot_be_worked_back_from_the_total(app):
    from formengine.reports.progression import compare_municipalities, comparison_table

    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        for name, n in (("Sigma", 12), ("Tau", 3), ("Upsilon", 7), ("Phi", 0)):
            place = world.municipality(name)
            for i in range(n):
                family = world.family(place, f"{name}{i}")
                person = world.person(family, name=f"s{i}")
                world.respond("who5", who5_answers(40), person, world.wave(family, 1))
                world.respond("who5", who5_answers(60), person, world.wave(family, 2))
        rows = compare_municipalities(session, get_registry(app).get("who5"), "percent", 1, 2)
        overall = progression_report(session, get_registry(app).get("who5"), "percent", 1, 2)
    overall = overall.to_dict(THRESHOLD)
    table = comparison_table(rows, THRESHOLD)
    true = {row["municipality"]: r.stats.n for row, (_n, r) in zip(table, rows, strict=True)}
    shown = {row["municipality"]: row["n_paired"] for row in table}
    true["all"], shown["all"] = 22, overall["n_paired"]
    assert shown["Tau"] is None
    assert recoverable(true, shown, [([k for k in true if k != "all"], "all")]) == []


def test_status_report_tables_never_give_a_small_count_away(app):
    from formengine.reports.status import completion

    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        place = world.municipality("Chi")
        # measurement 1 due for 9 families (7 answered), measurement 2 for 6 (4 answered), 2 closings
        for i in range(9):
            family = world.family(place, f"C{i}", enrolled_on=date(2024, 1, 1))
            person = world.person(family, name=f"c{i}")
            first = world.wave(family, 1)
            if i < 7:
                world.respond("who5", who5_answers(40), person, first)
            if i < 6:
                second = world.wave(family, 2)
                if i < 4:
                    world.respond("who5", who5_answers(40), person, second)
            if i >= 7:
                world.wave(family, 3, "closing")
        session.flush()
        rows, total = completion(session, place.id, date(2023, 1, 1), date(2026, 1, 1), THRESHOLD)
    true, shown, sums = {}, {}, []
    real = {"1": (7, 2), "2": (4, 2), "closing": (0, 2)}
    for row in rows:
        done, not_done = real[row.label]
        true.update({(row.label, "done"): done, (row.label, "not"): not_done,
                     (row.label, "due"): done + not_done})
        shown.update({(row.label, "done"): row.done, (row.label, "not"): row.not_done,
                      (row.label, "due"): row.due})
        sums.append(([(row.label, "done"), (row.label, "not")], (row.label, "due")))
    true.update({"done": 11, "not": 6, "due": 17})
    shown.update({"done": total.done, "not": total.not_done, "due": total.due})
    sums += [([(r.label, "done") for r in rows], "done"), ([(r.label, "not") for r in rows], "not"),
             ([(r.label, "due") for r in rows], "due"), (["done", "not"], "due")]
    assert [r.label for r in rows] == ["1", "2", "closing"]
    assert recoverable(true, shown, sums) == []


def test_a_hidden_part_is_protected_only_when_small():
    lines = [Line(("a", "b", "other"), "n")]
    big_other = protect({"a": 10, "b": 12, "other": 7, "n": 29}, lines, THRESHOLD, hidden=["other"])
    assert big_other == {"a": 10, "b": 12, "other": None, "n": 29}
    small_other = protect({"a": 10, "b": 12, "other": 2, "n": 24}, lines, THRESHOLD, hidden=["other"])
    assert small_other["other"] is None and small_other["a"] is None and small_other["b"] == 12
