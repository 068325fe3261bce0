"""Every hook in formengine/hookspecs.py is documented in docs/plugins.md with its signature, and tested.

A new hook fails these tests until the guide has a section for it (heading and
signature) and some test calls it; a hook removed from hookspecs.py fails them
while the guide still describes it.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from formengine import hookspecs
from formengine.api import hookimpl
from formengine.plugins import build_registry

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"


def hook_specs() -> dict[str, inspect.Signature]:
    """Name -> signature of every hook specification (functions marked by ``hookspec``)."""
    return {
        name: inspect.signature(function)
        for name, function in vars(hookspecs).items()
        if callable(function) and hasattr(function, "formengine_spec")
    }


HOOKS = hook_specs()


def test_the_hookspecs_module_declares_the_hooks():
    assert {"formengine_instruments", "formengine_render_widget", "formengine_result_view"} <= set(HOOKS)
    assert all(name.startswith("formengine_") for name in HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_section_with_its_signature_in_the_guide(name):
    guide = GUIDE.read_text("utf-8")
    assert f"\n### {name}\n" in guide, f"docs/plugins.md has no '### {name}' section"
    section = guide.split(f"\n### {name}\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    # the call shape; the types are in hookspecs.py
    signature = f"{name}({', '.join(HOOKS[name].parameters)})"
    assert f"`{signature}`" in section, f"the {name} section does not show `{signature}`"
    assert "```python" in section and "@hookimpl" in section, f"the {name} section has no example"


def test_the_guide_describes_no_hook_that_does_not_exist():
    guide = GUIDE.read_text("utf-8")
    mentioned = set(re.findall(r"\bformengine_[a-z_]+(?=\()", guide))
    mentioned |= set(re.findall(r"^### (formengine_[a-z_]+)$", guide, re.MULTILINE))
    assert mentioned - set(HOOKS) == set()


def files_of_tests() -> list[Path]:
    files = [p for p in (ROOT / "tests").rglob("test_*.py") if p.name != Path(__file__).name]
    return files + sorted((ROOT / "plugins").glob("*/tests/test_*.py"))


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_called_by_some_test(name):
    """A call (``module.hook(...)`` or ``pm.hook.hook(...)``) in a test file, not just a definition."""
    call = re.compile(rf"\.{name}\s*\(")
    callers = [p.relative_to(ROOT).as_posix() for p in files_of_tests() if call.search(p.read_text("utf-8"))]
    assert callers, f"no test calls {name}; add one next to the feature that uses it"


def plugin_with_every_hook():
    """A plugin object implementing every hook with exactly the specification's arguments."""
    namespace: dict[str, object] = {}
    for name, signature in HOOKS.items():
        arguments = ", ".join(signature.parameters)
        collecting = not hookspecs.__dict__[name].formengine_spec["firstresult"]
        result = "[]" if collecting else repr(f"from {name}")
        exec(f"def {name}({arguments}):\n    return {result}", namespace)  # noqa: S102 - test scaffolding
    return type("EveryHook", (), {name: staticmethod(hookimpl(namespace[name])) for name in HOOKS})


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_can_be_implemented_with_its_documented_arguments_and_is_called(name):
    registry = build_registry(None, use_entry_points=False, extra=[(plugin_with_every_hook(), "every_hook")])
    assert registry.failed == []
    caller = getattr(registry.pm.hook, name)
    result = caller(**{argument: None for argument in HOOKS[name].parameters})
    if hookspecs.__dict__[name].formengine_spec["firstresult"]:
        assert result == f"from {name}"
    else:
        assert result == [[]]


def test_the_checks_catch_an_undocumented_and_uncalled_hook(monkeypatch):
    monkeypatch.setitem(HOOKS, "formengine_brand_new", inspect.Signature())
    with pytest.raises(AssertionError, match="no '### formengine_brand_new' section"):
        test_every_hook_has_a_section_with_its_signature_in_the_guide("formengine_brand_new")
    with pytest.raises(AssertionError, match="no test calls formengine_brand_new"):
        test_every_hook_is_called_by_some_test("formengine_brand_new")
