"""The wheel: bundled plugins install as ``formengine_plugins``, never as a top-level ``plugins``.

A package named ``plugins`` would collide with any other package or folder of that
name on a user's path, so the repository folder ``plugins/`` is mapped to
``formengine_plugins``; the plugins' own tests stay out of the wheel, and the
entry-point names (which existing databases know the plugins by) are unchanged.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """Build the wheel from a copy of the sources (an in-tree build would leave build/ behind)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("formengine", "plugins"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    # This environment's setuptools and wheel (both in the test extra): offline and fast.
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-w", str(work / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (path,) = (work / "dist").glob("formengine-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_no_top_level_plugins_package_and_no_plugin_tests(wheel):
    names = wheel.namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"formengine", "formengine_plugins"}
    assert [n for n in names if n.startswith("formengine_plugins/") and "/tests/" in n] == []


def test_every_bundled_plugin_is_in_the_wheel_with_its_files(wheel):
    names = set(wheel.namelist())
    assert {"who5", "ics", "loft"} <= set(BUNDLED)
    for plugin in BUNDLED:
        folder = ROOT / "plugins" / plugin
        expected = {
            f"formengine_plugins/{plugin}/{path.relative_to(folder).as_posix()}"
            for path in folder.rglob("*")
            if path.is_file() and not {"tests", "__pycache__"} & set(path.relative_to(folder).parts)
        }
        assert expected - names == set(), f"{plugin}: files missing from the wheel"


def test_entry_points_keep_their_names_and_point_at_the_new_package(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode("utf-8"))
    assert dict(parser["formengine"]) == {name: f"formengine_plugins.{name}" for name in BUNDLED}
