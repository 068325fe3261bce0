"""`formengine score ID --batch` for every bundled instrument: shipped vectors, random gaps, bad lines."""

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from formengine import create_app
from formengine.cli import main
from formengine.registry import get_registry
from formengine.testing import load_vectors

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_VECTORS = {
    "sdq": ("sdq_p4_17", "sdq_s11_17", "sdq_t4_17"),
    "pss": ("pss",),
    "kidscreen": ("kidscreen10_child", "kidscreen10_parent"),
    "yls_cmi": ("yls_cmi",),
    "who5": ("who5",),
}
INSTRUMENT_IDS = [i for ids in PLUGIN_VECTORS.values() for i in ids]


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    app = create_app({"INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")), "TESTING": True,
                      "SECRET_KEY": "x"})
    return get_registry(app)


def vectors_for(instrument_id):
    plugin = next(p for p, ids in PLUGIN_VECTORS.items() if instrument_id in ids)
    single = len(PLUGIN_VECTORS[plugin]) == 1
    return [v for v in load_vectors(ROOT / "plugins" / plugin / "vectors.jsonl")
            if v.get("instrument", instrument_id if single else None) == instrument_id
            and "norms" not in v and "options" not in v]  # the command has no norms or options here


@pytest.mark.parametrize("instrument_id", INSTRUMENT_IDS)
def test_batch_agrees_with_every_shipped_vector(run, tmp_path, instrument_id):
    vectors = vectors_for(instrument_id)
    assert len(vectors) >= 10
    batch = tmp_path / "in.jsonl"
    batch.write_text("\n".join(json.dumps(v["answers"]) for v in vectors) + "\n", "utf-8")
    result = run("score", instrument_id, "--batch", str(batch))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(vectors)
    errors = 0
    for number, (vector, out) in enumerate(zip(vectors, lines, strict=True), start=1):
        expected = vector["expected"]
        if expected.get("error"):
            errors += 1
            assert out["line"] == number and out["error"], vector["note"]
            continue
        assert out["instrument"] == instrument_id
        assert out["valid"] == expected["valid"], vector["note"]
        for name, value in expected["scores"].items():
            assert out["scores"][name] == value, (vector["note"], name)
        assert out["bands"] == expected["bands"], vector["note"]
        assert sorted(f["code"] for f in out["flags"]) == sorted(expected["flags"]), vector["note"]
        assert all(f["message"] for f in out["flags"])
    assert (result.exit_code != 0) == (errors > 0)


def random_answers(instrument, rng):
    """A random share of items left out (none, few or many); the rest answered with random codes."""
    answers = {}
    definition = instrument.definition
    missing_rate = rng.choice([0.0, 0.0, 0.05, 0.2, 0.5])
    for item in definition.items:
        if rng.random() < missing_rate:
            continue
        kind = item.get("type", "choice")
        if kind == "choice":
            answers[item["id"]] = rng.choice(definition.scale_options(item))["code"]
        elif kind == "boolean":
            answers[item["id"]] = rng.random() < 0.5
    if "override_level" in answers:
        answers["override_reason"] = "Begrundelse"
    return answers


@pytest.mark.parametrize("instrument_id", INSTRUMENT_IDS)
def test_batch_with_random_missing_answers_matches_single_scoring(run, tmp_path, registry, instrument_id):
    instrument = registry.get(instrument_id)
    rng = random.Random(instrument_id)
    sets = [random_answers(instrument, rng) for _ in range(40)]
    batch = tmp_path / "in.jsonl"
    batch.write_text("".join(json.dumps(a) + "\n" for a in sets), "utf-8")
    result = run("score", instrument_id, "--batch", str(batch))
    assert result.exit_code == 0, result.output
    outs = [json.loads(line) for line in result.stdout.splitlines()]
    assert outs == [instrument.result_json(instrument.score_answers(a)) for a in sets]
    assert {o["valid"] for o in outs} == {True, False}  # the random sets hit both outcomes
    # The single-answer command gives the same object as the batch line.
    single = tmp_path / "one.json"
    single.write_text(json.dumps(sets[0]), "utf-8")
    assert json.loads(run("score", instrument_id, str(single)).stdout) == outs[0]


@pytest.mark.parametrize("instrument_id", INSTRUMENT_IDS)
def test_bad_lines_are_reported_in_place_and_good_lines_still_scored(run, tmp_path, instrument_id):
    first_item = next(v for v in vectors_for(instrument_id) if not v["expected"].get("error"))["answers"]
    batch = tmp_path / "in.jsonl"
    batch.write_text("\n".join([json.dumps(first_item), "{broken", "[1, 2]",
                                json.dumps({"no_such_item": 1}), "", json.dumps(first_item)]) + "\n", "utf-8")
    result = run("score", instrument_id, "--batch", str(batch))
    assert result.exit_code != 0
    assert "3 line(s) could not be scored" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("line") for line in lines] == [None, 2, 3, 4, None]
    assert "not valid JSON" in lines[1]["error"]
    assert "answers must be a JSON object" in lines[2]["error"]
    assert "unknown item id(s): no_such_item" in lines[3]["error"]
    assert lines[0] == lines[4] and lines[0]["instrument"] == instrument_id


@pytest.mark.parametrize("instrument_id", INSTRUMENT_IDS)
def test_single_bad_input_is_refused_cleanly(run, tmp_path, instrument_id):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"no_such_item": 1}), "utf-8")
    result = run("score", instrument_id, str(path))
    assert result.exit_code != 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "unknown item id(s): no_such_item" in result.stderr
