"""The statistics evaluators report, recomputed independently with numpy/scipy on generated data."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats

from formengine import clock
from formengine.api import Reliability
from formengine.cli import main
from formengine.db import get_db
from formengine.models import Consent, Municipality
from formengine.registry import get_registry
from formengine.reports import Filters, progression_report
from formengine.reports.progression import compare_municipalities, comparison_table
from formengine.reports.stats import band_shift_test, paired_stats
from tests.test_reports import World, who5_answers


def _independent(pairs):
    a = np.array([p[0] for p in pairs], dtype=float)
    b = np.array([p[1] for p in pairs], dtype=float)
    d = b - a
    n = len(d)
    d_baseline = d.mean() / a.std(ddof=1)
    return {
        "p_t": scipy_stats.ttest_rel(b, a).pvalue,
        "p_wilcoxon": scipy_stats.wilcoxon(b, a).pvalue,
        "d_z": d.mean() / d.std(ddof=1),
        "d_baseline": d_baseline,
        # Hedges' small-sample correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)), approx.
        "hedges_g": d_baseline * (1 - 3 / (4 * (n - 1) - 1)),
    }


def test_paired_statistics_match_scipy_on_random_data():
    rng = random.Random(3)
    for _ in range(15):
        n = rng.randint(6, 80)
        pairs = [(rng.uniform(10, 60), rng.uniform(10, 60)) for _ in range(n)]
        got = paired_stats(pairs)
        want = _independent(pairs)
        for key, value in want.items():
            assert getattr(got, key) == pytest.approx(value, rel=1e-9), key
        assert got.effect_size == got.d_z  # the old name is d_z


def test_hedges_correction_is_close_to_the_exact_gamma_form():
    from math import gamma, sqrt

    for n in (10, 30, 100):
        df = n - 1
        exact = gamma(df / 2) / (sqrt(df / 2) * gamma((df - 1) / 2))
        assert 1 - 3 / (4 * df - 1) == pytest.approx(exact, rel=2e-3)


def test_stuart_maxwell_reproduces_published_worked_examples():
    # Stuart (1955): unaided distance vision of 7477 women, right eye (rows) vs left eye; Q = 11.96, df 3
    vision = [[1520, 266, 124, 66], [234, 1512, 432, 78], [117, 362, 1772, 205], [36, 82, 179, 492]]
    result = band_shift_test(vision)
    assert result.name == "stuart_maxwell" and result.df == 3
    assert result.statistic == pytest.approx(11.96, abs=0.005)
    assert result.p == pytest.approx(scipy_stats.chi2.sf(11.957, 3), rel=1e-2)
    # drug vs placebo, three ordered categories: marginal homogeneity statistic 12.1387
    drug = [[14, 7, 9], [5, 26, 19], [1, 7, 12]]
    assert band_shift_test(drug).statistic == pytest.approx(12.1387, abs=1e-4)


def test_mcnemar_for_two_bands_and_undefined_cases():
    result = band_shift_test([[10, 9], [2, 10]])
    assert result.name == "mcnemar_exact"
    assert result.p == pytest.approx(scipy_stats.binomtest(9, 11, 0.5).pvalue)
    assert band_shift_test([[5, 0], [0, 7]]) is None  # nobody changed band
    assert band_shift_test([[5, 0, 0], [0, 0, 0], [0, 0, 0]]) is None


def test_reliability_is_validated_for_plugin_authors():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Reliability(score="total", coefficient=1.2, kind="cronbach_alpha", source="x")
    with pytest.raises(ValueError, match="publication"):
        Reliability(score="total", coefficient=0.8, kind="cronbach_alpha", source=" ")


def _pss_answers(total: int) -> dict[str, int]:
    """PSS item codes giving a total of ``total`` (18-90): items 1, 2, 5, 6, 7, 8, 17, 18 are reversed."""
    reversed_items = {1, 2, 5, 6, 7, 8, 17, 18}
    extra = total - 18
    answers = {}
    for i in range(1, 19):
        points = min(4, extra)
        extra -= points
        value = 1 + points
        answers[f"pss_{i}"] = 6 - value if i in reversed_items else value
    return answers


def test_rci_attrition_and_baseline_comparison_on_generated_data(app):
    rng = random.Random(21)
    today = clock.today()
    registry = get_registry(app)
    expected_pairs = []
    reasons = {"not_yet_due": 0, "closed_early": 0, "missed": 0, "consent_withdrawn": 0}
    dropouts = []
    with get_db(app).session() as session:
        world = World(session, registry)
        place = world.municipality("Lambda")
        for i in range(60):
            family = world.family(place, f"L{i}", enrolled_on=today - timedelta(days=400))
            person = world.person(family, name=f"l{i}")
            first = rng.randint(25, 80)
            w1 = world.wave(family, 1)
            world.respond("pss", _pss_answers(first), person, w1)
            kind = i % 6
            w2 = world.wave(family, 2)
            if kind <= 1:
                second = max(18, min(90, first + rng.randint(-20, 10)))
                world.respond("pss", _pss_answers(second), person, w2)
                expected_pairs.append((first, second))
                continue
            dropouts.append(first)
            if kind == 2:  # wave 2 due in the future
                w2.due_on = today + timedelta(days=30)
                reasons["not_yet_due"] += 1
            elif kind == 3:  # closed before wave 2 fell due
                w2.due_on = today - timedelta(days=100)
                family.status, family.closed_on = "closed", today - timedelta(days=200)
                reasons["closed_early"] += 1
            elif kind == 4:
                w2.due_on = today - timedelta(days=100)
                reasons["missed"] += 1
            else:
                session.add(Consent(person_id=person.id, municipality_id=place.id, given_by="x",
                                    given_on=today - timedelta(days=400),
                                    withdrawn_on=today - timedelta(days=50)))
                reasons["consent_withdrawn"] += 1
        session.flush()
        report = progression_report(session, registry.get("pss"), "total", 1, 2)
    assert report.stats.n == len(expected_pairs)
    assert report.attrition == reasons
    # Reliable Change Index with the published alpha 0.83 and the baseline SD of the paired people
    before = np.array([a for a, _ in expected_pairs], dtype=float)
    after = np.array([b for _, b in expected_pairs], dtype=float)
    s_diff = np.sqrt(2) * before.std(ddof=1) * np.sqrt(1 - 0.83)
    rci = (after - before) / s_diff
    # PSS: higher is worse, so a reliable fall is an improvement
    want = {"improved": int((rci <= -1.96).sum()), "deteriorated": int((rci >= 1.96).sum())}
    want["unchanged"] = len(rci) - want["improved"] - want["deteriorated"]
    assert report.rci == want and report.rci_basis["reliability"] == 0.83
    assert "Berry" in report.rci_basis["source"]
    comparison = report.baseline_comparison
    assert comparison.mean_b == pytest.approx(np.mean(dropouts))
    assert comparison.p_welch == pytest.approx(
        scipy_stats.ttest_ind(before, np.array(dropouts, dtype=float), equal_var=False).pvalue)
    data = report.to_dict(5)
    assert data["attrition"]["missed"] == reasons["missed"] and data["baseline_comparison"] is not None


def test_child_age_and_sex_filters_use_the_child_for_a_parents_answers(app):
    """A filter on the subject reads the child's sex and age, not the answering parent's."""
    registry = get_registry(app)
    kidscreen = registry.get("kidscreen10_parent")
    if kidscreen is None:
        pytest.skip("kidscreen is not installed")
    answers = {item["id"]: 3 for item in kidscreen.definition.items}
    with get_db(app).session() as session:
        world = World(session, registry)
        place = world.municipality("Mu")
        for i in range(12):
            family = world.family(place, f"M{i}")
            parent = world.person(family, role="parent", name="p", sex="female")
            child = world.person(family, role="child", name="c", sex="male" if i % 2 else "female",
                                 birth_date=date(2024 - (8 if i < 8 else 14), 1, 1))
            world.respond("kidscreen10_parent", answers, parent, world.wave(family, 1), about=child)
            world.respond("kidscreen10_parent", answers, parent, world.wave(family, 2), about=child)
        boys = progression_report(session, kidscreen, "raw", 1, 2, Filters(subject_sex="male"))
        young = progression_report(session, kidscreen, "raw", 1, 2, Filters(subject_age_band="6-11"))
        mothers = progression_report(session, kidscreen, "raw", 1, 2, Filters(sex="female"))
    assert boys.stats.n == 6 and young.stats.n == 8 and mothers.stats.n == 12


def _two_municipalities(app, sizes):
    rng = random.Random(5)
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        for name, n in sizes.items():
            place = world.municipality(name)
            for i in range(n):
                family = world.family(place, f"{name}{i}")
                person = world.person(family, name=f"x{i}")
                world.respond("who5", who5_answers(4 * rng.randint(0, 25)), person, world.wave(family, 1))
                world.respond("who5", who5_answers(4 * rng.randint(0, 25)), person, world.wave(family, 2))


def test_municipalities_side_by_side_with_small_rows_withheld(app):
    _two_municipalities(app, {"Nu": 20, "Xi": 9, "Omicron": 3})
    with get_db(app).session() as session:
        rows = compare_municipalities(session, get_registry(app).get("who5"), "percent", 1, 2)
        overall = progression_report(session, get_registry(app).get("who5"), "percent", 1, 2)
    table = {row["municipality"]: row for row in comparison_table(rows, 5)}
    assert [name for name, _r in rows] == ["Nu", "Omicron", "Xi"]
    nu = dict(rows)["Nu"].summary()
    assert table["Nu"]["mean_change"] == pytest.approx(nu["mean_change"]) and table["Nu"]["n_paired"] == 20
    assert table["Omicron"]["n_paired"] is None and table["Omicron"]["mean_change"] is None
    # 3 = total - 20 - 9 would give Omicron away: a second row's count is withheld too
    assert table["Xi"]["n_paired"] is None and table["Xi"]["mean_change"] is not None
    assert overall.stats.n == 32


def test_cli_json_has_the_new_figures_and_filters(app):
    _two_municipalities(app, {"Pi": 12})
    result = app.test_cli_runner().invoke(main, [
        "report", "progression", "who5", "percent", "--municipality", "Pi", "--sex", "female",
        "--subject-age-band", "25-39", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    with get_db(app).session() as session:
        pi = session.query(Municipality.id).filter_by(name="Pi").scalar()
        report = progression_report(session, get_registry(app).get("who5"), "percent", 1, 2,
                                    Filters(municipality_ids=(pi,), sex="female", subject_age_band="25-39"))
    want = report.summary()
    for key in ("n_paired", "p_t", "p_wilcoxon", "d_z", "d_baseline", "hedges_g", "attrition"):
        if isinstance(want[key], float):
            assert data[key] == pytest.approx(want[key])
        else:
            assert data[key] == want[key]
    assert data["filters"]["subject_age_band"] == "25-39" and data["n_paired"] == 12
    bad = app.test_cli_runner().invoke(main, ["report", "progression", "who5", "percent", "--sex", "x"])
    assert bad.exit_code != 0


def test_band_test_is_published_only_with_the_whole_shift_table(app):
    _two_municipalities(app, {"Rho": 40})
    with get_db(app).session() as session:
        report = progression_report(session, get_registry(app).get("who5"), "percent", 1, 2)
    assert report.band_test is not None and report.summary()["band_test"]["test"] == "stuart_maxwell"
    everything = report.to_dict(1)  # a threshold of 1 withholds nothing
    assert everything["band_test"] == report.summary()["band_test"]
    protected = report.to_dict(5)
    withheld = any(c is None for row in protected["shift"] for c in row)
    assert (protected["band_test"] is None) == withheld
