"""The formengine command: plugins, score (single and batch), init-db, demo."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from formengine.cli import main

ITEMS = ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5"]


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


def test_plugins_lists_who5(run):
    result = run("plugins")
    assert result.exit_code == 0
    assert "who5" in result.output and "entry point formengine_plugins.who5" in result.output


def test_score_prints_the_stable_json_object(run, tmp_path):
    path = write(tmp_path, "a.json", dict(zip(ITEMS, [3, 3, 2, 2, 2], strict=True)))
    result = run("score", "who5", path)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "instrument": "who5", "version": "1.0.0", "valid": True,
        "scores": {"raw": 12, "percent": 48}, "bands": {"percent": "poor_wellbeing"}, "flags": [],
    }


def test_score_writes_no_file_and_creates_no_instance_folder(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(instance))
    monkeypatch.chdir(tmp_path)
    answers = write(tmp_path, "a.json", dict(zip(ITEMS, [3] * 5, strict=True)))
    batch = write(tmp_path, "b.jsonl", json.dumps(dict(zip(ITEMS, [1] * 5, strict=True))) + "\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    runner = CliRunner()
    assert runner.invoke(main, ["score", "who5", answers]).exit_code == 0
    assert runner.invoke(main, ["score", "who5", "--batch", batch]).exit_code == 0
    assert not instance.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_score_with_missing_items_is_invalid_but_succeeds(run, tmp_path):
    result = run("score", "who5", write(tmp_path, "a.json", {"who5_1": 3}))
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["valid"] is False and out["scores"] == {"raw": None, "percent": None}
    assert [f["code"] for f in out["flags"]] == ["missing_items"]


@pytest.mark.parametrize("args, content, words", [
    (["nosuch"], {"who5_1": 1}, "unknown instrument 'nosuch'"),
    (["who5"], {"who5_9": 1}, "unknown item id(s): who5_9"),
    (["who5"], {"who5_1": 6}, "who5_1: 6 is not a code"),
    (["who5"], "{not json", "is not valid JSON"),
    (["who5"], [1, 2], "must be a JSON object"),
])
def test_bad_input_exits_non_zero_with_one_line_and_no_scores(run, tmp_path, args, content, words):
    result = run("score", *args, write(tmp_path, "bad.json", content))
    assert result.exit_code != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert words in result.stderr


def test_unreadable_file_is_refused(run, tmp_path):
    result = run("score", "who5", str(tmp_path / "missing.json"))
    assert result.exit_code != 0 and "cannot read" in result.stderr and result.stdout == ""


def test_batch_scores_every_line_in_order_and_reports_bad_lines(run, tmp_path):
    lines = [
        json.dumps(dict(zip(ITEMS, [5] * 5, strict=True))),
        "{broken",
        json.dumps({"who5_1": 9}),
        json.dumps(dict(zip(ITEMS, [0] * 5, strict=True))),
    ]
    result = run("score", "who5", "--batch", write(tmp_path, "b.jsonl", "\n".join(lines) + "\n"))
    assert result.exit_code != 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[0]["scores"]["percent"] == 100
    assert out[1]["line"] == 2 and "not valid JSON" in out[1]["error"]
    assert out[2] == {"line": 3, "error": out[2]["error"]} and "who5_1" in out[2]["error"]
    assert out[3]["scores"]["percent"] == 0


def test_batch_all_good_exits_zero(run, tmp_path):
    lines = [json.dumps(dict(zip(ITEMS, [i] * 5, strict=True))) for i in range(6)]
    result = run("score", "who5", "--batch", write(tmp_path, "b.jsonl", "\n".join(lines)))
    assert result.exit_code == 0
    assert [json.loads(x)["scores"]["raw"] for x in result.stdout.splitlines()] == [0, 5, 10, 15, 20, 25]


def test_init_db_and_demo_on_the_embedded_sqlite_default(run, tmp_path):
    assert run("init-db").exit_code == 0
    result = run("demo")
    assert result.exit_code == 0 and "team-a" in result.output
    assert run("demo").exit_code == 0  # loading twice changes nothing
    assert (tmp_path / "instance" / "formengine.db").exists()


def test_installed_console_script(tmp_path):
    """The real `formengine` entry point, as a user types it."""
    answers = write(tmp_path, "a.json", dict(zip(ITEMS, [4] * 5, strict=True)))
    env_python = sys.executable
    proc = subprocess.run(
        [env_python, "-m", "formengine", "score", "who5", answers],
        capture_output=True, text=True, env={"FORMENGINE_INSTANCE_PATH": str(tmp_path / "i"), "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scores"]["percent"] == 80


def test_preview_renders_every_step_of_a_definition_without_a_database(tmp_path, monkeypatch):
    from pathlib import Path

    instance = tmp_path / "instance"
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(instance))
    definition = Path(__file__).resolve().parents[1] / "plugins" / "loft" / "definition.json"
    out = tmp_path / "loft.html"
    runner = CliRunner()
    result = runner.invoke(main, ["preview", str(definition), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and "4 step(s) of loft_worksheet" in result.output
    html = out.read_text("utf-8")
    for page_title in ("Mål og skalering", "Undtagelser", "Ressourcer", "Næste skridt"):
        assert page_title in html
    # the goal group starts with its min_repeat entry, the 0-10 scale is one row of targets
    assert 'name="goals__0__goal"' in html and "options-scale" in html
    assert not instance.exists()
    english = runner.invoke(main, ["preview", "who5", "--lang", "en"])
    assert english.exit_code == 0 and 'lang="en"' in english.output and "who5_5" in english.output

    broken = json.loads(definition.read_text("utf-8"))
    broken["items"][0]["type"] = "grup"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken), "utf-8")
    refused = runner.invoke(main, ["preview", str(bad)])
    assert refused.exit_code != 0 and refused.output.count("\n") == 1 and "/items/0" in refused.output


def test_run_reload_watches_plugin_definitions_templates_and_drop_ins(make_app, tmp_path):
    from pathlib import Path

    from formengine.preview import watched_files

    drop_ins = tmp_path / "drop_ins"
    drop_ins.mkdir()
    (drop_ins / "worksheet.json").write_text("{}", "utf-8")
    app = make_app(PLUGIN_DIR=str(drop_ins))
    watched = watched_files(app)
    root = Path(__file__).resolve().parents[1]
    assert str(root / "plugins" / "loft" / "definition.json") in watched
    assert str(root / "formengine" / "templates" / "fill" / "_macros.html") in watched
    assert str(drop_ins / "worksheet.json") in watched
    assert not any("__pycache__" in path for path in watched)
