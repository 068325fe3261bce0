"""``formengine new-plugin NAME``: write a complete, working instrument plugin project to start from.

The project (pyproject with the entry point, definition in Danish and English,
scoring, known-answer vectors, tests on the conformance kit, README) installs
with ``pip install -e`` and passes its own tests straight away; its package
folder also works as a drop-in in ``instance/plugins/``. The files come from
``scaffold_templates/`` with ``%%placeholders%%`` filled in.
"""

from __future__ import annotations

import keyword
import re
import shutil
import sys
import uuid
from importlib import resources
from pathlib import Path

from formengine.api import API_VERSION

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,25}$")
# Names that would shadow something a plugin or formengine itself imports.
RESERVED = {"formengine", "formengine_plugins", "plugins", "tests", "test", "pytest", "flask", "jinja2",
            "markupsafe", "pluggy"}

# template path (relative to scaffold_templates/) -> path in the new project; {name} is the plugin name
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "package/__init__.py.tmpl": "{name}/__init__.py",
    "package/definition.json.tmpl": "{name}/definition.json",
    "package/scoring.py.tmpl": "{name}/scoring.py",
    "package/vectors.jsonl.tmpl": "{name}/vectors.jsonl",
    "tests/test_plugin.py.tmpl": "tests/test_{name}.py",
}


class ScaffoldError(ValueError):
    """The plugin cannot be generated as asked; nothing was written."""


def check_name(name: str) -> None:
    """Refuse names that are not a short snake_case identifier or that would shadow another module."""
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"{name!r} is not a valid plugin name: use lower-case letters, digits and _, "
            "starting with a letter, at most 26 characters (it is also the instrument id)"
        )
    if keyword.iskeyword(name) or name in RESERVED or name in sys.stdlib_module_names:
        raise ScaffoldError(f"{name!r} would shadow a Python module of the same name; choose another name")


def formengine_range() -> str:
    """The formengine releases a new plugin may run on: this one up to the next breaking release.

    Breaking releases are the next major version, or the next minor one while
    formengine is 0.x (semantic versioning's rule for initial development).
    """
    from formengine import __version__

    parts = [int(p) for p in __version__.split(".")[:2]]
    upper = f"{parts[0] + 1}" if parts[0] >= 1 else f"0.{parts[1] + 1}"
    return f">={__version__},<{upper}"


def substitutions(name: str) -> dict[str, str]:
    major = int(API_VERSION.split(".")[0])
    return {
        "%%formengine_range%%": formengine_range(),
        "%%name%%": name,
        "%%title%%": name.replace("_", " ").strip().capitalize(),
        "%%dist%%": "formengine-" + name.replace("_", "-"),
        "%%api%%": API_VERSION,
        "%%api_next%%": str(major + 1),
    }


def render(template: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def new_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write the plugin project ``<directory>/<name>/`` and return its path.

    Refuses (with :class:`ScaffoldError`, writing nothing) a bad name or a
    target folder that already exists and is not empty.
    """
    check_name(name)
    parent = Path(directory)
    target = parent / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty; nothing was written")
    parent.mkdir(parents=True, exist_ok=True)
    values = substitutions(name)
    templates = resources.files("formengine").joinpath("scaffold_templates")
    # write everything into a temporary folder beside the target, then move it in one step
    staging = parent / f".{name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()  # default permissions, unlike mkdtemp's private 0700
    try:
        for source, destination in FILES.items():
            text = templates.joinpath(source).read_text("utf-8")
            path = staging / destination.format(name=name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(text, values), "utf-8")
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
