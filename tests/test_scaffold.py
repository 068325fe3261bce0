"""``formengine new-plugin``: the generated plugin installs, passes its own tests, and loads both ways.

The slow end-to-end test does what a municipality's developer does after
generating: ``pip install -e`` (into a throw-away virtual environment that sees
this installation's packages and nothing else of the machine), ``pytest`` inside
the plugin, ``formengine plugins``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner

from formengine.api import load_definition
from formengine.cli import main
from formengine.registry import get_registry
from formengine.scaffold import ScaffoldError, new_plugin
from formengine.testing import check_plugin


def generate(tmp_path: Path, name: str = "mood_check") -> Path:
    result = CliRunner().invoke(main, ["new-plugin", name, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / name) in result.output
    return tmp_path / name


def test_the_scaffold_writes_a_complete_plugin_project(tmp_path):
    project = generate(tmp_path)
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == [
        "README.md", "mood_check/__init__.py", "mood_check/definition.json", "mood_check/scoring.py",
        "mood_check/vectors.jsonl", "pyproject.toml", "tests/test_mood_check.py",
    ]
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points.formengine]\nmood_check = "mood_check"' in pyproject
    definition = load_definition(project / "mood_check" / "definition.json")
    assert definition.id == "mood_check"
    for item in definition.items:
        assert item["label"]["da"] and item["label"]["en"] and item["label"]["da"] != item["label"]["en"]
    assert "check_plugin(mood_check)" in (project / "tests" / "test_mood_check.py").read_text()
    assert "%%" not in "".join(p.read_text() for p in project.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", ["Mood", "2fast", "mood-check", "a" * 27, "json", "formengine", "class"])
def test_a_bad_name_is_refused_and_nothing_is_written(tmp_path, name):
    result = CliRunner().invoke(main, ["new-plugin", name, "--dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "error:" in result.output and name in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "mood_check").mkdir()
    (tmp_path / "mood_check" / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="already exists"):
        new_plugin("mood_check", tmp_path)
    assert [p.name for p in (tmp_path / "mood_check").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mood_check"]  # no leftovers either


def import_generated(project: Path, name: str):
    sys.path.insert(0, str(project))
    try:
        module = __import__(name)
    finally:
        sys.path.remove(str(project))
    return module


def test_the_generated_plugin_passes_the_conformance_kit_in_process(tmp_path):
    project = generate(tmp_path, "sleep_diary")
    try:
        module = import_generated(project, "sleep_diary")
        (instrument,) = check_plugin(module)
        result = instrument.score_answers({"q1": 2, "q2": 1})
        assert result.scores == {"total": 5} and result.flag_codes() == ["prorated"]
    finally:
        for key in [k for k in sys.modules if k == "sleep_diary" or k.startswith("sleep_diary.")]:
            del sys.modules[key]


def test_the_generated_package_works_as_a_drop_in(make_app, tmp_path):
    project = generate(tmp_path / "src", "quiet_check")
    shutil.copytree(project / "quiet_check", tmp_path / "instance" / "plugins" / "quiet_check")
    registry = get_registry(make_app())
    assert "quiet_check" in registry.instruments, [p.reason for p in registry.failed]
    loaded = {p.name: p for p in registry.loaded}
    assert loaded["quiet_check"].source.startswith("drop-in")
    assert registry.get("quiet_check").score_answers({"q1": 3, "q2": 3, "q3": 3}).scores == {"total": 9}


def test_a_changed_item_is_caught_by_the_generated_tests(tmp_path):
    """The developer's loop: change definition and scoring together, or the tests say where they differ."""
    project = generate(tmp_path, "calm_check")
    path = project / "calm_check" / "definition.json"
    data = json.loads(path.read_text())
    new_item = {"id": "q4", "scale": "agree4", "label": {"da": "Jeg er rolig", "en": "I am calm"}}
    data["items"].insert(3, new_item)
    path.write_text(json.dumps(data))
    outcome = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(project)}, capture_output=True, text=True,
        timeout=120,
    )
    assert outcome.returncode == 1, outcome.stdout
    assert "test_scoring_uses_exactly_the_choice_items_of_the_definition" in outcome.stdout


def test_an_item_left_unscored_on_purpose_passes_the_generated_tests(tmp_path):
    """An unscored choice item, listed in UNSCORED, and a text item pass as generated."""
    project = generate(tmp_path, "day_check")
    path = project / "day_check" / "definition.json"
    data = json.loads(path.read_text())
    data["items"].append({"id": "today", "scale": "agree4", "label": {"da": "I dag", "en": "Today"}})
    data["items"].append({"id": "note", "type": "text", "max_length": 200, "required": False,
                          "label": {"da": "Note", "en": "Note"}})
    path.write_text(json.dumps(data))
    scoring = project / "day_check" / "scoring.py"
    scoring.write_text(scoring.read_text().replace("UNSCORED: tuple[str, ...] = ()",
                                                   'UNSCORED: tuple[str, ...] = ("today",)'))
    outcome = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(project)}, capture_output=True, text=True,
        timeout=120,
    )
    assert outcome.returncode == 0, outcome.stdout


def test_the_project_pins_a_compatible_formengine_range(tmp_path):
    from packaging.requirements import Requirement

    from formengine import __version__
    from formengine.scaffold import formengine_range

    pyproject = (generate(tmp_path) / "pyproject.toml").read_text()
    (line,) = [ln for ln in pyproject.splitlines() if ln.startswith("dependencies")]
    requirement = Requirement(line.split('"')[1])
    assert requirement.name == "formengine"
    assert requirement.specifier == Requirement("formengine" + formengine_range()).specifier
    assert __version__ in requirement.specifier
    major, minor = (int(p) for p in __version__.split(".")[:2])
    breaking = f"{major + 1}.0" if major >= 1 else f"0.{minor + 1}"
    assert breaking not in requirement.specifier


def throwaway_venv(path: Path) -> Path:
    """A virtual environment layered on this one: it sees this environment's packages (pip, setuptools,
    pytest, formengine) but not the base interpreter's, so the test needs only what the test extra installs.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    python = path / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    # addsitedir (not a bare path) so this environment's .pth files, e.g. formengine's editable
    # install, are processed too.
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    Path(own, "zz_parent_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in ours))
    return python


def test_generate_install_test_and_list_like_a_developer(tmp_path):
    """new-plugin -> pip install -e -> pytest inside it -> formengine plugins lists it (CI runs this)."""
    project = generate(tmp_path, "family_mood")
    python = throwaway_venv(tmp_path / "venv")
    # Built with this environment's setuptools and wheel (the test extra): offline, nothing fetched.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-e", str(project)],
        capture_output=True, text=True, timeout=240,
    )
    assert install.returncode == 0, install.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith("FORMENGINE_")}
    env["FORMENGINE_INSTANCE_PATH"] = str(tmp_path / "instance")
    tests = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q"],
                           cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout

    listing = subprocess.run([str(python), "-m", "formengine", "plugins"], cwd=project, env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "family_mood 1.0.0  loaded  [entry point family_mood]" in listing.stdout
    assert "- family_mood 1.0.0 (scoring 1)" in listing.stdout
    # the plugin is installed only in the throw-away environment, not in this one
    assert "family_mood" not in {ep.name for ep in entry_points(group="formengine")}
