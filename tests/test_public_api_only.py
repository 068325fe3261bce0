"""Plugins import nothing of formengine but its public API: an import check on every file under plugins/.

A plugin may import ``formengine.api``, ``formengine.testing`` (in its tests),
``formengine`` itself (``from formengine import hookimpl``), the standard
library, its own package and the test tools. Anything else in ``formengine``
is private and may change without notice, so using it is a failure here.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
IMPORT_NAME = "formengine_plugins"  # what the folder plugins/ is installed (and imported) as
PUBLIC = {"formengine", "formengine.api", "formengine.testing"}
# what a plugin's own tests may use besides the standard library
TEST_TOOLS = {"pytest", "hypothesis"}
# the plugins whose purpose is to prove the public API is enough: no exceptions at all
WORKSHEETS = ("ics", "loft")
# Known departures elsewhere, each named exactly so that any new one fails. Reason:
# the programme's tests check its default plan with the core's private plan parser;
# the plan rules' validation belongs in formengine.testing (or formengine.api).
KNOWN_EXCEPTIONS = {("plugins/programme/tests/test_programme.py", "formengine.plan")}


def imported_modules(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, package of the file) for every import in a file; relative imports resolved."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    relative = path.relative_to(PLUGINS).with_suffix("")
    # the package a relative import starts from: the file's directory (for __init__ too)
    package = ".".join((IMPORT_NAME, *relative.parts[:-1]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, package) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "formengine":  # from formengine import hookimpl (or api / testing); nothing else
                found += [(node.lineno, "formengine" if alias.name == "hookimpl"
                           else f"formengine.{alias.name}", package) for alias in node.names]
            else:
                found.append((node.lineno, module, package))
    return found


def violations(path: Path) -> list[str]:
    """Every import in ``path`` that is neither public API, standard library, own package nor test tool."""
    own = path.relative_to(PLUGINS).parts[:1]  # ("<name>",) for a file in plugins/<name>/
    own_package = f"{IMPORT_NAME}.{own[0]}" if own and (PLUGINS / own[0]).is_dir() else IMPORT_NAME
    in_tests = "tests" in path.parts
    problems = []
    for line, module, _package in imported_modules(path):
        top = module.split(".")[0]
        if module in PUBLIC:
            continue
        if module == own_package or module.startswith(own_package + "."):
            continue
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        if in_tests and top in TEST_TOOLS:
            continue
        where = path.relative_to(PLUGINS.parent).as_posix()
        if (where, module) in KNOWN_EXCEPTIONS and not in_worksheet(path):
            continue
        problems.append(f"{where}:{line} imports {module}")
    return problems


def in_worksheet(path: Path) -> bool:
    return path.relative_to(PLUGINS).parts[0] in WORKSHEETS


def plugin_files(name: str) -> list[Path]:
    return sorted((PLUGINS / name).rglob("*.py"))


@pytest.mark.parametrize("name", WORKSHEETS)
def test_the_worksheets_use_nothing_but_the_public_api(name):
    files = plugin_files(name)
    assert len(files) >= 4, f"expected the {name} plugin's code and tests, found {files}"
    problems = [p for path in files for p in violations(path)]
    assert problems == []


def test_every_bundled_plugin_uses_nothing_but_the_public_api():
    packages = sorted(p.name for p in PLUGINS.iterdir() if (p / "__init__.py").exists())
    assert {"who5", *WORKSHEETS} <= set(packages)
    problems = [p for name in packages for path in plugin_files(name) for p in violations(path)]
    assert problems == []


@pytest.mark.parametrize("source, allowed", [
    ("from formengine.api import Instrument\n", True),
    ("from formengine import hookimpl\n", True),
    ("from formengine.testing import check_plugin\n", True),
    ("import json, pathlib\n", True),
    ("from .summary import summarise\n", True),
    ("from formengine_plugins.ics import summary\n", True),
    ("from formengine.instruments.definition import iter_items\n", False),
    ("import formengine.models\n", False),
    ("from formengine import db\n", False),
    ("import flask\n", False),
    ("from markupsafe import Markup\n", False),
    ("from formengine_plugins.who5 import scoring\n", False),
    ("from ..who5 import scoring\n", False),
    ("from plugins.ics import summary\n", False),  # the folder's name is not the import name
])
def test_the_check_catches_private_and_foreign_imports(tmp_path, monkeypatch, source, allowed):
    fake_root = tmp_path / "plugins"
    (fake_root / "ics").mkdir(parents=True)
    (fake_root / "who5").mkdir()
    path = fake_root / "ics" / "views.py"
    path.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PLUGINS", fake_root)
    assert (violations(path) == []) is allowed


# -- render_plugin_template: what plugins render their own HTML with --------------------------

def make_plugin_package(root: Path, package: str, files: dict[str, str]) -> str:
    """A throw-away importable package with templates; returns its module name."""
    directory = root / package
    (directory / "templates").mkdir(parents=True)
    (directory / "__init__.py").write_text("")
    for name, body in files.items():
        path = directory / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return package


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    name = make_plugin_package(tmp_path, "notes_pack", {
        "notes_pack/note.html": "<p title=\"{{ who }}\">{{ note }}</p>{{ trusted }} {{ text(label, lang) }}",
        "notes_pack/strict.html": "{{ missing_name }}",
        "notes_pack/mean.html": "{{ mean|number(1, lang) }} / {{ big|number(0, lang) }} / {{ none|number }}",
        "elsewhere/x.html": "other namespace",
    })
    yield name
    sys.modules.pop(name, None)


def test_plugin_templates_are_autoescaped_and_return_markup(plugin_package):
    from formengine.api import Markup, render_plugin_template

    html = render_plugin_template(
        plugin_package, "notes_pack/note.html", who='"x" onmouseover=alert(1)',
        note="<script>alert('hi')</script> & co", trusted=Markup("<b>ok</b>"),
        label={"da": "Hej", "en": "Hello"}, lang="en",
    )
    assert isinstance(html, Markup)
    assert html == ('<p title="&#34;x&#34; onmouseover=alert(1)">'
                    "&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt; &amp; co</p><b>ok</b> Hello")


@pytest.mark.parametrize("lang, expected", [("da", "5,7 / 12.346 / –"), ("en", "5.7 / 12,346 / –")])
def test_plugin_templates_format_numbers_in_the_readers_locale(plugin_package, lang, expected):
    from formengine.api import render_plugin_template

    # 5.65 rounds half up to 5.7, as everywhere in the core
    html = render_plugin_template(plugin_package, "notes_pack/mean.html", mean=5.65, big=12345.5, none=None,
                                  lang=lang)
    assert html == expected


@pytest.mark.parametrize("name", ["elsewhere/x.html", "x.html", "notes_pack/../elsewhere/x.html",
                                  "notes_pack/nope.html", "instruments/result.html"])
def test_a_plugin_gets_only_its_own_namespace(plugin_package, name):
    from formengine.api import PluginTemplateError, render_plugin_template

    with pytest.raises(PluginTemplateError):
        render_plugin_template(plugin_package, name)


def test_an_undefined_name_in_a_plugin_template_is_an_error_not_a_blank(plugin_package):
    import jinja2

    from formengine.api import render_plugin_template

    with pytest.raises(jinja2.UndefinedError):
        render_plugin_template(plugin_package, "notes_pack/strict.html")


def test_a_drop_in_plugin_renders_from_its_own_folder(make_app, tmp_path):
    """instance/plugins/<name>/ is imported as formengine_dropin_<name>; its namespace is still <name>."""
    from formengine.registry import get_registry

    source = PLUGINS / "ics"
    target = tmp_path / "instance" / "plugins" / "ics_copy"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (target / "templates" / "ics").rename(target / "templates" / "ics_copy")
    for path in (target / "views.py",):
        path.write_text(path.read_text().replace('"ics/', '"ics_copy/'))
    definition = target / "definition.json"
    definition.write_text(definition.read_text().replace('"ics_worksheet"', '"ics_copy"'))
    init = target / "__init__.py"
    init.write_text(init.read_text().replace('INSTRUMENT_ID = "ics_worksheet"', 'INSTRUMENT_ID = "ics_copy"'))
    registry = get_registry(make_app())
    instrument = registry.get("ics_copy")
    assert instrument is not None, [p.reason for p in registry.failed]
    html = registry.pm.hook.formengine_result_view(
        response=type("R", (), {"answers": {"health_rating": "concern"}})(), instrument=instrument,
        history=[], lang="da")
    assert 'data-dimension="health" data-rating="concern"' in html
