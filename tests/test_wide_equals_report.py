"""The wide file reproduces the progression report: every instrument, score and pair of measurements.

An evaluator pairs measurement j and k from the wide CSV with pandas; the
paired n, the n measured only at the first, and both means must equal the
report's — on the demo data and on generated data with closings stored as
measurement k, answers given twice in one wave, invalid scores and a parent's
answers about a child.
"""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from formengine.db import get_db
from formengine.definition_versions import comparable
from formengine.exports.dataset import ExportRequest, scored_instrument_ids
from formengine.exports.service import build_export
from formengine.registry import get_registry
from formengine.reports import progression_report
from tests.conftest import load_demo_into
from tests.test_reports import TEST_PLUGINS, World, who5_answers

PAIRS = ((1, 2), (1, 3), (2, 3), (2, 1), ("first", "last"), ("first", "closing"), (1, "closing"))


def _wide(app) -> pd.DataFrame:
    registry = get_registry(app)
    request = ExportRequest(instrument_ids=scored_instrument_ids(registry))
    with get_db(app).session() as session:
        export = build_export(session, registry, request, layout="wide", fmt="csv")
        text = "".join(c if isinstance(c, str) else c.decode() for c in export.chunks)
    return pd.read_csv(io.StringIO(text.lstrip("\ufeff")), sep=";", decimal=",", dtype={"person": str})


def _measurement(frame: pd.DataFrame, instrument_id: str, score: str, selector) -> pd.DataFrame:
    """Per row: the measurement number, value and instrument version picked by ``selector``."""
    numbers = sorted(int(c.rsplit("_w", 1)[1]) for c in frame.columns
                     if c.startswith(f"{instrument_id}_{score}_w"))
    out = pd.DataFrame({"k": pd.Series([pd.NA] * len(frame), dtype="Int64"),
                        "value": float("nan"), "iv": None}, index=frame.index)
    for k in numbers:
        has = frame[f"{instrument_id}_{score}_w{k}"].notna()
        if selector == "closing":
            has &= frame[f"{instrument_id}_kind_w{k}"] == "closing"
        elif isinstance(selector, int):
            has &= k == selector
        if selector == "first":
            take = has & out["k"].isna()
        else:  # a number, "last" and "closing": the highest k that qualifies
            take = has
        out.loc[take, "k"] = k
        out.loc[take, "value"] = frame.loc[take, f"{instrument_id}_{score}_w{k}"]
        out.loc[take, "iv"] = frame.loc[take, f"{instrument_id}_iv_w{k}"]
    return out


def _compare_every_figure(app) -> tuple[int, int]:
    registry = get_registry(app)
    frame = _wide(app)
    checked = paired = 0
    with get_db(app).session() as session:
        for instrument_id in scored_instrument_ids(registry):
            instrument = registry.get(instrument_id)
            for spec in instrument.definition.scores:
                score = spec["name"]
                if not any(c.startswith(f"{instrument_id}_{score}_w") for c in frame.columns):
                    continue
                for start, end in PAIRS:
                        report = progression_report(session, instrument, score, start, end).summary()
                        a = _measurement(frame, instrument_id, score, start)
                        b = _measurement(frame, instrument_id, score, end)
                        measured = a["k"].notna()
                        both = measured & b["k"].notna() & (a["k"] != b["k"]).fillna(False)
                        both &= pd.Series([comparable(instrument, x, y) if ok else False
                                           for ok, x, y in zip(both, a["iv"], b["iv"], strict=True)],
                                          index=frame.index)
                        first_only = measured & ~(b["k"].notna() & (a["k"] != b["k"]).fillna(False))
                        where = f"{instrument_id} {score} {start}->{end}"
                        assert report["n_paired"] == int(both.sum()), where
                        assert report["n_first_only"] == int(first_only.sum()), where
                        if report["n_paired"]:
                            assert report["mean_from"] == pytest.approx(a.loc[both, "value"].mean()), where
                            assert report["mean_to"] == pytest.approx(b.loc[both, "value"].mean()), where
                        checked += 1
                        paired += report["n_paired"]
    return checked, paired


def test_wide_file_reproduces_the_report_on_the_demo_data(app):
    load_demo_into(app, cases=True)
    checked, paired = _compare_every_figure(app)
    assert checked > 50 and paired > 100


@pytest.fixture
def generated(make_app):
    """Random series: closings as measurement 2 to 4, repeats in a wave, invalid scores, about a child."""
    app = make_app(EXTRA_PLUGINS=TEST_PLUGINS)
    rng = random.Random(20261201)
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        places = [world.municipality("Alpha"), world.municipality("Beta")]
        for i in range(60):
            family = world.family(places[i % 2], f"G{i}", enrolled_on=date(2024, 1, 1) + timedelta(days=i))
            parent = world.person(family, name=f"p{i}")
            child = world.person(family, role="child", name=f"c{i}", birth_date=date(2012 + i % 8, 3, 1),
                                 sex=rng.choice(("female", "male")))
            last = rng.choice((1, 2, 3))
            waves = [world.wave(family, k) for k in range(1, last + 1)]
            if rng.random() < 0.5:  # closed: the closing wave is the next measurement number
                waves.append(world.wave(family, last + 1, "closing"))
            for wave in waves:
                day = datetime(2024, 1, 10, 9, tzinfo=UTC) + timedelta(days=180 * (wave.number - 1) + i)
                for repeat in range(rng.choice((1, 1, 1, 2))):  # sometimes answered twice in one wave
                    when = day + timedelta(days=repeat * rng.choice((0, 3)), minutes=repeat)
                    if rng.random() < 0.85:
                        answers = who5_answers(4 * rng.randint(0, 25))
                        if rng.random() < 0.1:  # an item left out: the score is not valid
                            answers.pop("who5_3")
                        world.respond("who5", answers, parent, wave, when=when)
                    if rng.random() < 0.8:
                        world.respond("tscale", {"t_1": rng.randint(0, 10), "t_2": rng.randint(0, 10)},
                                      parent, wave, when=when, about=child)
    return app


def test_wide_file_reproduces_the_report_on_generated_data(generated):
    checked, paired = _compare_every_figure(generated)
    assert checked >= 2 * len(PAIRS) and paired > 100
