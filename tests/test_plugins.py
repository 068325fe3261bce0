"""Plugin discovery: drop-ins, broken plugins, duplicate ids, invalid definitions, API versions."""

import json
import textwrap
from pathlib import Path

from formengine.registry import get_registry

WHO5_DEFINITION = Path(__file__).parents[1] / "plugins" / "who5" / "definition.json"

PLUGIN_TEMPLATE = textwrap.dedent('''
    from pathlib import Path
    from formengine.api import Instrument, hookimpl, load_definition, ScoreResult
    REQUIRES_API = {requires!r}

    @hookimpl
    def formengine_instruments():
        definition = load_definition(Path(__file__).with_name("{definition}"))
        return [Instrument(definition=definition, score=lambda a, c: ScoreResult(True, {{}}))]
''')


def write_plugin(plugin_dir: Path, name: str, instrument_id: str, *, requires=">=1.0,<2",
                 mutate=None) -> None:
    plugin_dir.mkdir(parents=True, exist_ok=True)
    data = json.loads(WHO5_DEFINITION.read_text("utf-8"))
    data["id"] = instrument_id
    data["scores"] = []
    if mutate:
        mutate(data)
    (plugin_dir / f"{name}.json").write_text(json.dumps(data), "utf-8")
    source = PLUGIN_TEMPLATE.format(requires=requires, definition=f"{name}.json")
    (plugin_dir / f"{name}.py").write_text(source)


def problems(app):
    return {p.name: p.reason for p in get_registry(app).failed}


def test_bundled_who5_is_loaded_from_its_entry_point(app):
    registry = get_registry(app)
    assert "who5" in registry.instruments
    assert registry.owner["who5"] == "who5"
    assert any(p.name == "who5" and p.source.startswith("entry point") for p in registry.loaded)


def test_a_drop_in_plugin_is_discovered(make_app, tmp_path):
    write_plugin(tmp_path / "instance" / "plugins", "mood_check", "mood_check")
    registry = get_registry(make_app())
    assert "mood_check" in registry.instruments
    loaded = {p.name: p for p in registry.loaded}
    assert loaded["mood_check"].source.startswith("drop-in")


def test_a_drop_in_package_is_discovered(make_app, tmp_path):
    package = tmp_path / "instance" / "plugins" / "sleep_pack"
    write_plugin(package, "__init__", "sleep_check")
    assert "sleep_check" in get_registry(make_app()).instruments


def test_a_broken_plugin_is_reported_and_the_app_still_starts(make_app, tmp_path):
    plugin_dir = tmp_path / "instance" / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "broken.py").write_text("def oops(:\n")
    app = make_app()
    assert "SyntaxError" in problems(app)["broken"]
    assert app.test_client().get("/login").status_code == 200
    assert "who5" in get_registry(app).instruments


def test_a_duplicate_instrument_id_is_refused_naming_both(make_app, tmp_path):
    write_plugin(tmp_path / "instance" / "plugins", "copycat", "who5")
    registry = get_registry(make_app())
    reason = problems_by = {p.name: p.reason for p in registry.failed}["copycat"]
    assert "'who5'" in reason and "'copycat'" in reason
    assert registry.owner["who5"] == "who5"
    assert problems_by


def test_an_invalid_definition_is_reported_with_its_json_pointer(make_app, tmp_path):
    def bad(data):
        data["items"][2]["scale"] = "no_such_scale"

    write_plugin(tmp_path / "instance" / "plugins", "badlabels", "bad_labels", mutate=bad)
    registry = get_registry(make_app())
    reason = problems(make_app())["badlabels"]
    assert "/items/2/scale" in reason and "unknown scale" in reason
    assert "bad_labels" not in registry.instruments


def test_a_plugin_needing_another_api_version_is_refused(make_app, tmp_path):
    write_plugin(tmp_path / "instance" / "plugins", "future", "future_form", requires=">=2.0")
    reason = problems(make_app())["future"]
    assert "needs plugin API >=2.0" in reason and "provides 1.0" in reason


def test_a_misspelled_hook_is_reported(make_app, tmp_path):
    plugin_dir = tmp_path / "instance" / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "typo.py").write_text(
        "from formengine import hookimpl\n\n@hookimpl\ndef formengine_instrumentz():\n    return []\n"
    )
    assert "formengine_instrumentz" in problems(make_app())["typo"]


def test_an_edited_drop_in_package_is_reloaded_by_the_next_app(make_app, tmp_path):
    """A drop-in's submodules are imported afresh, so an edited scoring module takes effect."""
    package = tmp_path / "instance" / "plugins" / "editable"
    write_plugin(package, "__init__", "editable_form")
    (package / "helper.py").write_text("VALUE = 1\n")
    (package / "__init__.py").write_text(
        (package / "__init__.py").read_text() + "\nfrom . import helper\nHELPER_VALUE = helper.VALUE\n"
    )
    first = get_registry(make_app()).pm.get_plugin("editable")
    assert first.HELPER_VALUE == 1
    (package / "helper.py").write_text("VALUE = 22  # longer, so a cached .pyc cannot match\n")
    second = get_registry(make_app()).pm.get_plugin("editable")
    assert second.HELPER_VALUE == 22


def test_a_second_plugin_with_a_taken_name_is_refused_and_the_first_keeps_working(make_app):
    from formengine_plugins import pss, who5

    registry = get_registry(make_app(LOAD_ENTRY_POINTS=False, EXTRA_PLUGINS=[(who5, "who5"), (pss, "who5")]))
    assert problems_of(registry) == {"who5": ["a plugin named 'who5' is already loaded"]}
    assert registry.pm.get_plugin("who5") is who5
    assert sorted(registry.instruments) == ["who5"]


def test_registering_the_same_module_twice_keeps_the_first_registration(make_app):
    from formengine_plugins import ics

    app = make_app(LOAD_ENTRY_POINTS=False, EXTRA_PLUGINS=[(ics, "ics"), (ics, "ics_again")])
    registry = get_registry(app)
    assert problems_of(registry) == {"ics_again": ["this module is already loaded as plugin 'ics'"]}
    # its hooks are still there, not only its instrument
    assert registry.pm.is_registered(ics)
    assert any(i.plugin is ics for i in registry.pm.hook.formengine_result_view.get_hookimpls())
    assert registry.instruments["ics_worksheet"].plugin == "ics"


def test_a_function_named_like_a_hook_without_hookimpl_is_refused(make_app, tmp_path):
    plugin_dir = tmp_path / "instance" / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "unmarked.py").write_text("def formengine_instruments():\n    return []\n")
    assert "formengine_instruments is not marked with @hookimpl" in problems(make_app())["unmarked"]


def test_a_plugin_whose_definition_fails_is_refused_whole(make_app, tmp_path):
    def bad(data):
        data["items"][2]["scale"] = "no_such_scale"

    write_plugin(tmp_path / "instance" / "plugins", "badlabels", "bad_labels", mutate=bad)
    registry = get_registry(make_app())
    assert "badlabels" not in [p.name for p in registry.loaded]
    assert not registry.pm.has_plugin("badlabels")


def test_plugins_command_lists_each_plugin_once_and_exits_non_zero_on_failure(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from formengine.cli import main

    instance = tmp_path / "instance"
    monkeypatch.setenv("FORMENGINE_INSTANCE_PATH", str(instance))
    runner = CliRunner()
    healthy = runner.invoke(main, ["plugins"], catch_exceptions=False)
    assert healthy.exit_code == 0 and "who5 " in healthy.output and "loaded" in healthy.output

    write_plugin(instance / "plugins", "badlabels", "bad_labels",
                 mutate=lambda data: data["items"][2].update(scale="no_such_scale"))
    result = runner.invoke(main, ["plugins"], catch_exceptions=False)
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("badlabels")]
    assert len(lines) == 1 and "FAILED" in lines[0]
    assert "/items/2/scale" in result.stdout
    assert "1 plugin(s) failed to load" in result.stderr


def problems_of(registry):
    found = {}
    for problem in registry.failed:
        found.setdefault(problem.name, []).append(problem.reason)
    return found
