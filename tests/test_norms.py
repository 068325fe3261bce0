"""Norm packs: validated against the declared scores, used by scoring when installed, never invented."""

import json

import pytest
from click.testing import CliRunner

from formengine.cli import main
from formengine.norms import NormPackError, load_norm_packs, norm_packs, validate_norms
from formengine.registry import get_registry
from formengine.scoring_context import scoring_context

ITEMS = [f"k10_{n}" for n in range(1, 11)]


def made_up_table(**changes):
    """A MADE-UP raw -> T table (T = raw + 0.25), only to prove the mechanism."""
    pack = {"source": "Made-up test table, not the KIDSCREEN manual",
            "lookups": {"t_value": {"from": "raw", "table": {str(r): r + 0.25 for r in range(10, 51)}}}}
    pack.update(changes)
    return pack


@pytest.fixture
def kidscreen(app):
    return get_registry(app).get("kidscreen10_child")


@pytest.fixture
def yls(app):
    return get_registry(app).get("yls_cmi")


def test_scoring_uses_an_installed_table_and_flags_its_absence(app, kidscreen):
    answers = {item: 3 for item in ITEMS}
    without = kidscreen.score_answers(answers, scoring_context(app, kidscreen))
    assert without.scores == {"raw": 30, "t_value": None} and without.flag_codes() == ["no_norm_table"]

    directory = app.config["NORMS_DIR"]
    directory.mkdir(parents=True)
    (directory / "kidscreen10_child.json").write_text(json.dumps(made_up_table()), "utf-8")
    app.extensions.pop("formengine.norms", None)  # a new app would read the directory afresh
    parent = get_registry(app).get("kidscreen10_parent")
    child = kidscreen.score_answers(answers, scoring_context(app, kidscreen))
    assert child.scores == {"raw": 30, "t_value": 30.25} and child.flag_codes() == []
    # The table is per version: the parent version still has none.
    assert parent.score_answers(answers, scoring_context(app, parent)).scores["t_value"] is None


@pytest.mark.parametrize("change, words", [
    ({"source": " "}, '"source"'),
    ({"instrument": "kidscreen10_parent"}, "\"instrument\" is 'kidscreen10_parent'"),
    ({"lookups": {"t_value": {"from": "raw", "table": {str(r): r for r in range(10, 50)}}}},
     "lacks raw value(s) 50"),
    ({"lookups": {"t_value": {"from": "raw", "table": {**{str(r): r for r in range(10, 51)}, "51": 3}}}},
     "value(s) 51 outside raw 10-50"),
    ({"lookups": {"t_value": {"from": "raw", "table": {**{str(r): r for r in range(10, 51)}, "30": "high"}}}},
     "at 30: \"high\" is not a number"),
    ({"lookups": {"percentile": {"from": "raw", "table": {}}}}, "lookup for unknown score 'percentile'"),
    ({"lookups": {"t_value": {"from": "t_value", "table": {}}}}, "from unknown score 't_value'"),
    ({"lookups": {}}, "neither \"lookups\" nor \"bands\""),
    ({"extra": 1}, "unknown key(s) extra"),
])
def test_bad_tables_are_refused_with_the_reason(kidscreen, change, words):
    with pytest.raises(NormPackError) as caught:
        validate_norms(kidscreen.definition, made_up_table(**change), "kidscreen10_child.json")
    assert words in str(caught.value)


def bands(**per_score):
    return {"source": "Made-up cut-offs", "bands": per_score}


@pytest.mark.parametrize("pack, words", [
    (bands(offences=[{"band": "low", "min": 0, "max": 2}, {"band": "high", "min": 4, "max": 5}]),
     "leave value(s) 3 without a band"),
    (bands(offences=[{"band": "low", "min": 0, "max": 3}, {"band": "high", "min": 3, "max": 5}]), "overlap"),
    (bands(offences=[{"band": "low", "min": 0, "max": 6}]), "reach outside the score's range (6)"),
    (bands(offences=[{"band": "extreme", "min": 0, "max": 5}]), "band 'extreme' is not a band of offences"),
    (bands(strengths=[{"band": "low", "min": 0, "max": 7}]), "band 'low' is not a band of strengths"),
    (bands(nothing=[{"band": "low", "min": 0, "max": 7}]), "bands for unknown score 'nothing'"),
    (bands(offences=[{"band": "low", "min": 0.5, "max": 5}]), "whole numbers"),
])
def test_bad_cut_offs_are_refused(yls, pack, words):
    with pytest.raises(NormPackError) as caught:
        validate_norms(yls.definition, pack)
    assert words in str(caught.value)


def test_domain_cut_offs_give_domain_bands(app, yls):
    directory = app.config["NORMS_DIR"]
    directory.mkdir(parents=True)
    cut_offs = {name: [{"band": "low", "min": 0, "max": 0}, {"band": "moderate", "min": 1, "max": 1},
                       {"band": "high", "min": 2, "max": size}]
                for name, size in (("offences", 5), ("family", 6), ("education", 7), ("peers", 4),
                                   ("substance", 5), ("leisure", 3), ("personality", 7), ("attitudes", 5))}
    (directory / "yls_cmi.json").write_text(json.dumps(bands(**cut_offs)), "utf-8")
    answers = {item["id"]: 0 for item in yls.definition.items if item.get("scale") == "present"}
    answers.update({"yls_1_1": 1, "yls_2_1": 1, "yls_2_2": 1})
    result = yls.score_answers(answers, scoring_context(app, yls))
    assert result.bands["offences"] == "moderate" and result.bands["family"] == "high"
    assert result.bands["peers"] == "low" and result.bands["total"] == "low"
    assert "no_norm_table" not in result.flag_codes()


def test_a_broken_pack_is_listed_and_not_used(app, kidscreen):
    directory = app.config["NORMS_DIR"]
    directory.mkdir(parents=True)
    (directory / "kidscreen10_child.json").write_text("{not json", "utf-8")
    (directory / "unknown_thing.json").write_text(json.dumps(made_up_table()), "utf-8")
    packs = norm_packs(app)
    assert packs.get("kidscreen10_child") is None
    errors = sorted(s.error for s in packs.statuses)
    assert errors[0].startswith("kidscreen10_child.json: not valid UTF-8 JSON")
    assert errors[1] == "unknown_thing.json: no installed instrument 'unknown_thing'"
    result = kidscreen.score_answers({i: 2 for i in ITEMS}, scoring_context(app, kidscreen))
    assert result.scores["t_value"] is None and result.flag_codes() == ["no_norm_table"]


def test_missing_directory_means_no_norms(tmp_path, kidscreen):
    packs = load_norm_packs(tmp_path / "absent", {"kidscreen10_child": kidscreen.definition})
    assert packs.packs == {} and packs.statuses == []


def test_cli_scores_with_an_installed_table_and_lists_it(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    (instance / "norms").mkdir(parents=True)
    (instance / "norms" / "kidscreen10_parent.json").write_text(json.dumps(made_up_table()), "utf-8")
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(instance))
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({item: 4 for item in ITEMS}), "utf-8")
    runner = CliRunner()
    scored = runner.invoke(main, ["score", "kidscreen10_parent", str(answers)], catch_exceptions=False)
    assert scored.exit_code == 0
    out = json.loads(scored.stdout)
    # items 3 and 4 answered 4 count 2: 8 x 4 + 2 x 2 = 36
    assert out["scores"] == {"raw": 36, "t_value": 36.25} and out["flags"] == []
    listed = runner.invoke(main, ["norms"], catch_exceptions=False)
    assert "kidscreen10_parent: Made-up test table, not the KIDSCREEN manual (sha256 " in listed.output
