"""A plugin that raises never fails a request or hides a score: it is named, and the rest goes on."""

from __future__ import annotations

import json
import logging
import types

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from formengine.api import Instrument, ScoreResult, hookimpl, load_definition
from formengine.catalogue import default_plan
from formengine.cli import main
from formengine.db import get_db
from formengine.exports.dataset import ExportRequest
from formengine.exports.service import build_export
from formengine.models import Municipality, Response, Score
from formengine.registry import get_registry
from tests.conftest import csrf_token
from tests.test_reports import World

SECRET = "Mit barn græder hver nat"  # an answer that must never reach the log

DEFINITION = {
    "id": "raiser_form", "version": "1.0", "title": {"da": "Fejlskema", "en": "Failing form"},
    "respondent": "self", "licence": {"holder": "Test", "terms": {"da": "Fri", "en": "Free"}},
    "scales": {"yn": {"options": [{"code": 0, "label": {"da": "Nej", "en": "No"}},
                                  {"code": 1, "label": {"da": "Ja", "en": "Yes"}}]},
               "zero_ten": {"options": [{"code": c, "label": {"da": str(c), "en": str(c)}}
                                        for c in range(11)]}},
    "items": [{"id": "q1", "scale": "yn", "label": {"da": "Første spørgsmål", "en": "First"},
               "widget": "raiser.broken"},
              {"id": "note", "type": "text", "max_length": 200, "required": False,
               "label": {"da": "Bemærkning", "en": "Note"}},
              {"id": "mood", "scale": "zero_ten", "required": False,
               "label": {"da": "Humør i dag", "en": "Mood today"}}],
    "scores": [{"name": "sum", "label": {"da": "Sum", "en": "Sum"}, "min": 0, "max": 1}],
}


def _score(answers, context=None):
    if answers.get("q1") == 1:
        return 1 / 0  # the plugin's bug, only for some answers
    return ScoreResult(valid=True, scores={"sum": answers.get("q1")})


def raising_plugin() -> types.ModuleType:
    module = types.ModuleType("raiser")

    @hookimpl
    def formengine_instruments():
        return [Instrument(definition=load_definition(DEFINITION), score=_score)]

    @hookimpl
    def formengine_render_widget(item, definition, value, lang, texts):
        raise RuntimeError(f"widget broke on {value}")

    @hookimpl
    def formengine_result_view(response, instrument, history, lang):
        if instrument.id == "raiser_form":
            raise KeyError(response.answers.get("note"))
        return None

    @hookimpl
    def formengine_default_plan():
        raise ValueError("no plan today")

    for function in (formengine_instruments, formengine_render_widget, formengine_result_view,
                     formengine_default_plan):
        setattr(module, function.__name__, function)
    return module


@pytest.fixture
def app(make_app):
    return make_app(EXTRA_PLUGINS=[(raising_plugin(), "raiser")])


def _submit(client, answers):
    token = csrf_token(client.get("/instruments/raiser_form").get_data(as_text=True))
    return client.post("/instruments/raiser_form", data={"csrf_token": token, **answers})


def test_a_raising_scorer_stores_the_response_as_scoring_failed_and_names_the_plugin(app, login_as, caplog):
    client = login_as("team-a")
    with caplog.at_level(logging.INFO, logger="formengine"):
        posted = _submit(client, {"q1": "1", "note": SECRET})
    assert posted.status_code == 302
    page = client.get(posted.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "raiser" in html and "Scoringen fejlede" in html
    with get_db(app).session() as session:
        response = session.scalars(select(Response)).one()
        assert response.answers == {"q1": 1, "note": SECRET}  # nothing the family gave is lost
        score = session.scalars(select(Score)).one()
        assert score.error == "plugin 'raiser' raised ZeroDivisionError"
        assert (score.valid, score.scores) == (False, {"sum": None})
        assert [(f["code"], f["level"]) for f in score.flags] == [("scoring_failed", "warning")]
    logged = caplog.text
    assert "raiser" in logged and "ZeroDivisionError" in logged
    assert SECRET not in logged


def test_exports_carry_the_scoring_failed_state(app, login_as):
    client = login_as("team-a")
    _submit(client, {"q1": "1"})
    _submit(client, {"q1": "0"})
    with get_db(app).session() as session:
        # the whole-form page stores practice fills (no person, no round), which are never
        # exported: file these two under a person's measurement, as a planned one would be
        world = World(session, get_registry(app))
        responses = list(session.scalars(select(Response)))
        family = world.family(session.get(Municipality, responses[0].municipality_id), "SAG-X")
        person, wave = world.person(family), world.wave(family, 1)
        for response in responses:
            response.person_id, response.about_person_id, response.wave_id = person.id, person.id, wave.id
        session.flush()
        export = build_export(session, get_registry(app), ExportRequest(instrument_ids=("raiser_form",)),
                              layout="long", fmt="csv")
        text = "".join(c if isinstance(c, str) else c.decode() for c in export.chunks)
    rows = [line for line in text.splitlines()[1:] if line.strip()]
    assert len(rows) == 2
    assert sum("scoring_failed" in row for row in rows) == 1


def test_a_raising_result_view_shows_the_standard_table_and_names_the_plugin(app, login_as, caplog):
    client = login_as("team-a")
    posted = _submit(client, {"q1": "0", "note": SECRET})
    with caplog.at_level(logging.INFO, logger="formengine"):
        page = client.get(posted.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Resultatvisningen fra udvidelsen raiser fejlede" in html
    assert '<table class="scores">' in html and "<td>0</td>" in html
    assert "KeyError" in caplog.text and SECRET not in caplog.text


def test_a_raising_widget_in_the_stepper_shows_the_standard_choices(app, login_as, caplog):
    client = login_as("team-a")
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    started = client.post("/fill/start/raiser_form", data={"csrf_token": token})
    assert started.status_code in (302, 303), started.get_data(as_text=True)
    with caplog.at_level(logging.INFO, logger="formengine"):
        step = client.get(started.headers["Location"], follow_redirects=True)
    html = step.get_data(as_text=True)
    assert step.status_code == 200
    assert 'type="radio" name="q1"' in html
    assert "raiser" in caplog.text and "RuntimeError" in caplog.text


def test_a_raising_default_plan_leaves_the_other_plugins_rules(app):
    rules = default_plan(get_registry(app))
    assert any(rule.instrument_id == "who5" for rule in rules)


def _write_dropin(instance):
    plugins = instance / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "raiser_form.json").write_text(json.dumps(DEFINITION), "utf-8")
    (plugins / "raiser.py").write_text(
        "from pathlib import Path\n"
        "from formengine.api import Instrument, ScoreResult, hookimpl, load_definition\n\n"
        "def _score(answers, context):\n"
        "    if answers.get('q1') == 1:\n"
        "        return 1 / 0\n"
        "    return ScoreResult(valid=True, scores={'sum': answers.get('q1')})\n\n"
        "@hookimpl\n"
        "def formengine_instruments():\n"
        "    definition = load_definition(Path(__file__).with_name('raiser_form.json'))\n"
        "    return [Instrument(definition=definition, score=_score)]\n"
    )


def test_the_score_command_prints_one_line_naming_the_plugin(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    _write_dropin(instance)
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(instance))
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"q1": 1}), "utf-8")
    result = CliRunner().invoke(main, ["score", "raiser_form", str(answers)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == ("error: raiser_form: scoring failed: plugin 'raiser' raised ZeroDivisionError\n")


def test_score_batch_gives_the_failing_line_an_error_and_scores_the_rest(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    _write_dropin(instance)
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(instance))
    batch = tmp_path / "a.jsonl"
    batch.write_text('{"q1": 0}\n{"q1": 1}\n{"q1": 0}\n', "utf-8")
    result = CliRunner().invoke(main, ["score", "raiser_form", "--batch", str(batch)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("scores") for line in lines] == [{"sum": 0}, None, {"sum": 0}]
    assert lines[1] == {"line": 2,
                        "error": "raiser_form: scoring failed: plugin 'raiser' raised ZeroDivisionError"}


def test_a_zero_to_ten_scale_renders_as_one_row_and_a_two_option_scale_does_not(app, login_as):
    """An 11-point scale is one row of large targets (options-scale); a yes/no scale stays as it was."""
    import re

    client = login_as("team-a")
    token = csrf_token(client.get("/instruments").get_data(as_text=True))
    started = client.post("/fill/start/raiser_form", data={"csrf_token": token})
    step = started.headers["Location"]
    html = client.get(f"{step}?page=mood").get_data(as_text=True)
    rows = re.findall(r'<div class="options options-scale">(.*?)</div>', html, re.S)
    assert len(rows) == 1 and len(re.findall(r'type="radio"', rows[0])) == 11
    assert "options-scale" not in client.get(f"{step}?page=q1").get_data(as_text=True)
    css = client.get("/static/formengine.css").get_data(as_text=True)
    assert ".options-scale { grid-auto-flow: column;" in css
