"""Progression report, person timeline and programme tables, checked against independent computations."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats

from formengine.api import Instrument, ScoreResult, band_for, hookimpl, load_definition
from formengine.cli import main
from formengine.db import get_db
from formengine.models import Family, Municipality, Person, Score, Wave
from formengine.registry import get_registry
from formengine.reports import Filters, ReportError, paired_stats, person_timeline, progression_report
from formengine.reports.programme import distributions, index_table
from formengine.responses import submit_new_response

# -- a test-only instrument (the core must work for any instrument) ----------
SCALE_DEF = {
    "id": "tscale",
    "version": "1.0",
    "title": {"da": "Testskala", "en": "Test scale"},
    "respondent": "self",
    "licence": {"holder": "test", "terms": {"da": "test", "en": "test"}},
    "scales": {"s": {"options": [{"code": c, "label": {"da": f"k{c}", "en": f"c{c}"}} for c in range(11)]}},
    "items": [{"id": f"t_{i}", "scale": "s", "label": {"da": f"Del {i}", "en": f"Part {i}"}} for i in (1, 2)],
    "scores": [{
        "name": "total", "label": {"da": "Total", "en": "Total"}, "min": 0, "max": 20,
        "higher_is": "worse", "meaningful_change": 3,
        "bands": {"low": {"da": "Lav", "en": "Low"}, "mid": {"da": "Mellem", "en": "Middle"},
                  "high": {"da": "Høj", "en": "High"}},
    }],
}
BACKGROUND_DEF = {
    "id": "tbackground",
    "version": "1.0",
    "title": {"da": "Baggrund", "en": "Background"},
    "respondent": "professional",
    "licence": {"holder": "test", "terms": {"da": "test", "en": "test"}},
    "scales": {"home": {"options": [
        {"code": 1, "label": {"da": "Hos mor", "en": "With mother"}},
        {"code": 2, "label": {"da": "Hos far", "en": "With father"}},
        {"code": 3, "label": {"da": "Hos begge", "en": "With both"}}]}},
    "items": [
        {"id": "home", "scale": "home", "label": {"da": "Bor", "en": "Lives"}},
        {"id": "siblings", "type": "boolean", "label": {"da": "Søskende", "en": "Siblings"},
         "required": False},
    ],
}
INDEX_DEF = {
    "id": "tindex",
    "version": "1.0",
    "title": {"da": "Indeks", "en": "Index"},
    "respondent": "municipality",
    "subject": "municipality",
    "licence": {"holder": "test", "terms": {"da": "test", "en": "test"}},
    "scales": {"deg": {"options": [{"code": c, "label": {"da": str(c), "en": str(c)}} for c in range(1, 6)]}},
    "items": [{"id": f"q{i}", "scale": "deg", "label": {"da": f"Spm {i}", "en": f"Q {i}"},
               "required": False} for i in (1, 2)],
    "scores": [{"name": "idx", "label": {"da": "Indeks", "en": "Index"}, "min": 1, "max": 5}],
}


def _score_scale(answers, context):
    total = answers["t_1"] + answers["t_2"]
    return ScoreResult(valid=True, scores={"total": total},
                       bands={"total": band_for(total, [("low", 0, 6), ("mid", 7, 13), ("high", 14, 20)])})


def _score_index(answers, context):
    values = [v for v in answers.values()]
    return ScoreResult(valid=bool(values), scores={"idx": sum(values) / len(values) if values else None})


class TestInstruments:
    @hookimpl
    def formengine_instruments(self):
        return [
            Instrument(definition=load_definition(SCALE_DEF), score=_score_scale, scoring_version="1"),
            Instrument(definition=load_definition(BACKGROUND_DEF), score=None),
            Instrument(definition=load_definition(INDEX_DEF), score=_score_index, scoring_version="1"),
        ]


TEST_PLUGINS = [(TestInstruments(), "report_test_instruments")]


# -- building data through the models -----------------------------------------
class World:
    """Creates municipalities, families, persons, waves and scored responses for tests."""

    def __init__(self, session, registry):
        self.session = session
        self.registry = registry
        self.count = 0

    def municipality(self, name: str) -> Municipality:
        municipality = Municipality(name=name, pseudonym_key=f"key-{name}")
        self.session.add(municipality)
        self.session.flush()
        return municipality

    def family(self, municipality, case_ref: str, enrolled_on: date = date(2024, 1, 15)) -> Family:
        family = Family(municipality_id=municipality.id, case_ref=case_ref, enrolled_on=enrolled_on)
        self.session.add(family)
        self.session.flush()
        return family

    def person(self, family, role="parent", name="P", birth_date=date(1985, 5, 1), sex="female") -> Person:
        person = Person(family_id=family.id, municipality_id=family.municipality_id, role=role, name=name,
                        birth_date=birth_date, sex=sex)
        self.session.add(person)
        self.session.flush()
        return person

    def wave(self, family, number: int, kind: str | None = None, municipality=None) -> Wave:
        kind = kind or ("baseline" if number == 1 else "progress")
        wave = Wave(municipality_id=family.municipality_id if family else municipality.id,
                    family_id=family.id if family else None, kind=kind, number=number,
                    due_on=date(2024, 1, 1) + timedelta(days=180 * (number - 1)))
        self.session.add(wave)
        self.session.flush()
        return wave

    def respond(self, instrument_id, answers, person, wave, when=None, about=None, municipality=None):
        self.count += 1
        instrument = self.registry.get(instrument_id)
        response = submit_new_response(
            self.session, instrument, answers,
            municipality_id=person.municipality_id if person else municipality.id,
            entered_by=None, wording={"kind": "project_labels"}, mode="paper",
            person_id=person.id if person else None, about_person_id=about.id if about else None,
            wave_id=wave.id,
        )
        when = when or datetime(2024, 1, 1, 10, tzinfo=UTC) + timedelta(days=180 * (wave.number - 1),
                                                                        minutes=self.count)
        response.submitted_at = when
        response.created_at = when
        self.session.flush()
        return response


def who5_answers(percent: int) -> dict[str, int]:
    """Item codes giving a WHO-5 percent score (a multiple of 4)."""
    raw = percent // 4
    codes = []
    for _ in range(5):
        code = min(5, raw)
        codes.append(code)
        raw -= code
    return {f"who5_{i + 1}": c for i, c in enumerate(codes)}


@pytest.fixture
def rapp(make_app):
    return make_app(EXTRA_PLUGINS=TEST_PLUGINS)


def _random_who5(app, seed: int, people: int = 40):
    """Random WHO-5 data in two municipalities; returns the expected pairs per municipality."""
    rng = random.Random(seed)
    expected: dict[str, list[tuple[float, float]]] = {"Alpha": [], "Beta": []}
    first_only = {"Alpha": 0, "Beta": 0}
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        places = {name: world.municipality(name) for name in expected}
        for i in range(people):
            name = "Alpha" if i % 3 else "Beta"
            family = world.family(places[name], f"F{i}")
            person = world.person(family, name=f"p{i}")
            w1, w2 = world.wave(family, 1), world.wave(family, 2)
            a = 4 * rng.randint(0, 25)
            world.respond("who5", who5_answers(a), person, w1)
            if rng.random() < 0.75:
                b = 4 * rng.randint(0, 25)
                world.respond("who5", who5_answers(b), person, w2)
                expected[name].append((a, b))
            else:
                first_only[name] += 1
    return expected, first_only


def _independent(pairs):
    a = np.array([p[0] for p in pairs], dtype=float)
    b = np.array([p[1] for p in pairs], dtype=float)
    d = b - a
    ci = scipy_stats.ttest_rel(b, a).confidence_interval(0.95)
    return {"mean_from": a.mean(), "mean_to": b.mean(), "mean_change": d.mean(),
            "ci95": (ci.low, ci.high), "effect_size": d.mean() / d.std(ddof=1)}


def test_paired_stats_match_an_independent_computation():
    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(2, 60)
        pairs = [(rng.uniform(18, 90), rng.uniform(18, 90)) for _ in range(n)]
        got = paired_stats(pairs)
        want = _independent(pairs)
        assert got.n == n
        for key in ("mean_from", "mean_to", "mean_change", "effect_size"):
            assert getattr(got, key) == pytest.approx(want[key], rel=1e-9, abs=1e-9)
        assert got.ci95 == pytest.approx(want["ci95"], rel=1e-9)


def test_paired_stats_edge_cases():
    assert paired_stats([]).n == 0 and paired_stats([]).mean_change is None
    one = paired_stats([(10, 14)])
    assert one.mean_change == 4 and one.ci95 is None and one.effect_size is None
    same = paired_stats([(10, 14), (20, 24)])
    assert same.ci95 == (4, 4) and same.effect_size is None  # no spread: effect size undefined


def test_progression_report_on_random_data_matches_independent_figures(app):
    expected, first_only = _random_who5(app, seed=11)
    instrument = get_registry(app).get("who5")
    with get_db(app).session() as session:
        everyone = progression_report(session, instrument, "percent", 1, 2)
        alpha_id = session.query(Municipality.id).filter_by(name="Alpha").scalar()
        alpha = progression_report(session, instrument, "percent", 1, 2,
                                   Filters(municipality_ids=(alpha_id,)))
    all_pairs = expected["Alpha"] + expected["Beta"]
    for report, pairs, lost in ((everyone, all_pairs, sum(first_only.values())),
                                (alpha, expected["Alpha"], first_only["Alpha"])):
        want = _independent(pairs)
        summary = report.summary()
        assert summary["n_paired"] == len(pairs)
        assert summary["n_first_only"] == lost
        for key in ("mean_from", "mean_to", "mean_change", "effect_size"):
            assert summary[key] == pytest.approx(want[key])
        assert summary["ci95"] == pytest.approx(list(want["ci95"]))
    # the shift table counts every pair once, by the stored bands
    assert sum(everyone.shift.values()) == len(all_pairs)
    assert everyone.band_order[:3] == ["likely_depression", "poor_wellbeing", "good_wellbeing"]


def test_cli_report_progression_prints_the_json_contract(app):
    expected, first_only = _random_who5(app, seed=5)
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["report", "progression", "who5", "percent", "--from", "1", "--to", "2",
                                  "--municipality", "Beta", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    want = _independent(expected["Beta"])
    assert data["n_paired"] == len(expected["Beta"]) and data["n_first_only"] == first_only["Beta"]
    assert data["mean_change"] == pytest.approx(want["mean_change"])
    assert data["ci95"] == pytest.approx(list(want["ci95"]))
    assert data["effect_size"] == pytest.approx(want["effect_size"])
    assert set(data) >= {"n_paired", "n_first_only", "mean_from", "mean_to", "mean_change", "ci95",
                         "effect_size"}

    bad = runner.invoke(main, ["report", "progression", "who5", "nonsense", "--json"])
    assert bad.exit_code != 0 and "who5 has no score 'nonsense'" in bad.output
    bad = runner.invoke(main, ["report", "progression", "who5", "percent", "--municipality", "Nowhere"])
    assert bad.exit_code != 0 and "unknown municipality" in bad.output


def test_report_rules_newest_valid_score_filters_and_wave_words(rapp):
    registry = get_registry(rapp)
    instrument = registry.get("tscale")
    with get_db(rapp).session() as session:
        world = World(session, registry)
        m = world.municipality("Gamma")
        people = []
        for i, (a, b, c) in enumerate([(2, 10, 12), (14, 9, 4), (8, 8, None), (5, None, 5), (10, 4, 3)]):
            family = world.family(m, f"G{i}", enrolled_on=date(2024, 1 + i, 1))
            person = world.person(family, role="parent" if i < 4 else "youth", name=f"g{i}",
                                  birth_date=date(1980, 1, 1) if i < 4 else date(2008, 1, 1),
                                  sex="female" if i % 2 == 0 else "male")
            people.append(person)
            waves = [world.wave(family, 1), world.wave(family, 2), world.wave(family, 3, "closing")]
            for wave, value in zip(waves, (a, b, c), strict=True):
                if value is not None:
                    world.respond("tscale", {"t_1": value // 2, "t_2": value - value // 2}, person, wave)
        # a draft never counts; a second answer in the same wave replaces the first
        wave_of = {p.id: {w.number: w for w in session.query(Wave).filter_by(family_id=p.family_id)}
                   for p in people}
        redo = world.respond("tscale", {"t_1": 0, "t_2": 0}, people[0], wave_of[people[0].id][2],
                             when=datetime(2024, 8, 1, tzinfo=UTC))
        draft = world.respond("tscale", {"t_1": 10, "t_2": 10}, people[1], wave_of[people[1].id][2],
                              when=datetime(2025, 1, 1, tzinfo=UTC))
        draft.status = "draft"
        session.flush()

        r = progression_report(session, instrument, "total", 1, 2)
        # pairs: g0 2->0 (redo replaces 10), g1 14->9, g2 8->8, g4 10->4; g3 first only
        assert r.stats.n == 4 and r.n_first_only == 1
        assert r.stats.mean_change == pytest.approx(((0 - 2) + (9 - 14) + 0 + (4 - 10)) / 4)
        # higher is worse: a fall of >= 3 is an improvement
        assert r.directions == {"unchanged": 2, "improved": 2}
        assert r.shift[("high", "mid")] == 1 and r.shift[("low", "low")] == 1

        closing = progression_report(session, instrument, "total", "first", "closing")
        assert closing.stats.n == 4  # g2 has no closing
        assert progression_report(session, instrument, "total", 1, 2, Filters(role="youth")).stats.n == 1
        assert progression_report(session, instrument, "total", 1, 2, Filters(sex="male")).stats.n == 1
        assert progression_report(session, instrument, "total", 1, 2,
                                  Filters(age_band="12-17")).stats.n == 1
        enrolled = Filters(enrolled_from=date(2024, 2, 1), enrolled_to=date(2024, 3, 31))
        assert progression_report(session, instrument, "total", 1, 2, enrolled).stats.n == 2

        assert r.scoring_versions == ["1"]
        # a score row added later (as rescoring adds one) is the current score, and the report
        # says that it combines two scoring versions
        session.add(Score(response_id=redo.id, scoring_version="2", instrument_version="1.0", valid=True,
                          scores={"total": 8}, bands={"total": "mid"}, flags=[]))
        session.flush()
        session.expire(redo)
        again = progression_report(session, instrument, "total", 1, 2)
        assert again.stats.mean_change == pytest.approx(((8 - 2) + (9 - 14) + 0 + (4 - 10)) / 4)
        assert again.scoring_versions == ["1", "2"] and again.summary()["scoring_versions"] == ["1", "2"]
        # an invalid current score takes the response out of the report
        redo.current_score.valid = False
        session.flush()
        assert progression_report(session, instrument, "total", 1, 2).stats.n == 4  # g0 falls back to 10

        with pytest.raises(ReportError, match="no score 'nope'"):
            progression_report(session, instrument, "nope")
        with pytest.raises(ReportError, match="measurement number"):
            progression_report(session, instrument, "total", "soon", 2)


def test_suppression_of_small_groups(rapp):
    registry = get_registry(rapp)
    with get_db(rapp).session() as session:
        world = World(session, registry)
        m = world.municipality("Delta")
        for i in range(3):
            family = world.family(m, f"D{i}")
            person = world.person(family, name=f"d{i}")
            world.respond("tscale", {"t_1": 1, "t_2": 1}, person, world.wave(family, 1))
            world.respond("tscale", {"t_1": 5, "t_2": 5}, person, world.wave(family, 2))
        report = progression_report(session, registry.get("tscale"), "total")
    safe = report.to_dict(min_group=5)
    assert safe["suppressed"] and safe["n_paired"] is None  # three people: the count itself is withheld
    assert safe["mean_change"] is None and safe["ci95"] is None and safe["shift"] is None
    shown = report.to_dict(min_group=3)
    assert not shown["suppressed"] and shown["mean_change"] == 8
    # a shift cell of 3 is below a threshold of 4, so it is withheld while the figures are shown
    assert report.to_dict(min_group=3)["shift"][0][1] == 3
    assert report.shift_cell("low", "mid", min_group=4) is None


def test_person_timeline_changes_and_meaningful_change(app):
    registry = get_registry(app)
    with get_db(app).session() as session:
        world = World(session, registry)
        m = world.municipality("Epsilon")
        family = world.family(m, "E1")
        person = world.person(family, name="e")
        for number, percent in ((1, 40), (2, 48), (3, 64)):
            world.respond("who5", who5_answers(percent), person, world.wave(family, number))
        series = {s.score_name: s for s in person_timeline(session, registry, person.id)}
    points = series["percent"].points
    assert [p.value for p in points] == [40, 48, 64]
    assert [p.change_previous for p in points] == [None, 8, 16]
    assert [p.change_first for p in points] == [None, 8, 24]
    # WHO-5 declares 10 points as meaningful; higher is better
    assert [p.direction_previous for p in points] == [None, "unchanged", "improved"]
    assert points[0].band == "poor_wellbeing" and points[2].band == "good_wellbeing"
    assert series["raw"].meaningful_change is None


def test_programme_tables_from_definitions(rapp):
    registry = get_registry(rapp)
    with get_db(rapp).session() as session:
        world = World(session, registry)
        m1, m2 = world.municipality("Zeta"), world.municipality("Eta")
        for i, (place, home) in enumerate([(m1, 1), (m1, 1), (m1, 2), (m2, 3)]):
            family = world.family(place, f"Z{i}")
            person = world.person(family, role="child", name=f"z{i}")
            answers = {"home": home} if i else {"home": home, "siblings": True}
            world.respond("tbackground", answers, person, world.wave(family, 1))
            if i == 0:  # a later answer does not change the background distribution per municipality
                world.respond("tbackground", {"home": 3}, person, world.wave(family, 2))
        for place, values in ((m1, [(1, 5, 3), (2, 4, 4)]), (m2, [(1, 2, None)])):
            for number, q1, q2 in values:
                wave = world.wave(None, number, "progress", municipality=place)
                answers = {"q1": q1} if q2 is None else {"q1": q1, "q2": q2}
                world.respond("tindex", answers, None, wave, municipality=place)
        table = distributions(session, registry.get("tbackground"), by="municipality")
        per_wave = distributions(session, registry.get("tbackground"), by="wave")
        index = index_table(session, registry.get("tindex"))
        m1_id = m1.id
    home = table.items[0]
    assert home.n[m1_id] == 3 and home.share(m1_id, 1) == pytest.approx(2 / 3)
    assert home.counts[m1_id].get(3, 0) == 0
    siblings = table.items[1]
    assert siblings.n[m1_id] == 1 and siblings.share(m1_id, True) == 1
    assert [c[1] for c in per_wave.columns] == ["1", "2"] and per_wave.items[0].n[2] == 1
    assert [(r.municipality, r.wave_number, r.means["idx"]) for r in index] == [
        ("Eta", 1, 2.0), ("Zeta", 1, 4.0), ("Zeta", 2, 4.0)]


