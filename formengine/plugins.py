"""Plugin discovery and the instrument registry.

Plugins come from the setuptools entry-point group ``formengine`` and from
modules or packages dropped into ``instance/plugins/``. One broken plugin
never takes the application down: it is skipped and reported with its reason.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from formengine import hookspecs
from formengine.api import API_VERSION
from formengine.instruments import Instrument

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "formengine"


@dataclass
class LoadedPlugin:
    name: str
    source: str
    version: str | None
    instruments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HookFailure:
    """A plugin's hook implementation raised; only its name and the error's class are kept."""

    plugin: str
    hook: str
    error: str


@dataclass
class PluginProblem:
    """A plugin, or one instrument of it, that was refused."""

    name: str
    source: str
    reason: str


class PluginRegistry:
    """The plugin manager for one application, and the instruments it provided."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("formengine")
        self.pm.add_hookspecs(hookspecs)
        self.loaded: list[LoadedPlugin] = []
        self.failed: list[PluginProblem] = []
        self.instruments: dict[str, Instrument] = {}
        self.owner: dict[str, str] = {}

    # -- discovery ------------------------------------------------------
    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            source = f"entry point {ep.value}"
            dist = getattr(ep, "dist", None)
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import error is reported, not raised
                self._fail(ep.name, source, f"import failed: {_short(exc)}", exc)
                continue
            version = getattr(module, "__version__", None) or (dist.version if dist else None)
            self.add(module, ep.name, source, version)

    def load_directory(self, directory: Path) -> None:
        """Import each ``*.py`` module and package in ``directory`` (sorted by name)."""
        if not directory.is_dir():
            return
        for path in sorted(directory.iterdir()):
            if path.name.startswith(("_", ".")):
                continue
            if path.is_dir() and (path / "__init__.py").exists():
                init = path / "__init__.py"
            elif path.suffix == ".py":
                init = path
            else:
                continue
            name = path.stem
            source = f"drop-in {path}"
            module_name = f"formengine_dropin_{name}"
            # Each app imports its drop-ins afresh: a cached submodule from an earlier
            # app in the same process would hide an edited plugin.
            _forget_modules(module_name)
            try:
                spec = importlib.util.spec_from_file_location(
                    module_name,
                    init,
                    submodule_search_locations=[str(path)] if path.is_dir() else None,
                )
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            except Exception as exc:  # noqa: BLE001
                sys.modules.pop(module_name, None)
                self._fail(name, source, f"import failed: {_short(exc)}", exc)
                continue
            self.add(module, name, source, getattr(module, "__version__", None))

    # -- registration ---------------------------------------------------
    def add(self, module: ModuleType | Any, name: str, source: str, version: str | None = None) -> bool:
        """Register one plugin object; return False (and record every reason) when refused.

        A plugin is taken whole or not at all: if its hooks do not match the
        specifications, its API range excludes this core, or any instrument it
        returns is refused, it is unregistered and none of its instruments stay.
        ``formengine.testing.check_plugin`` calls this same method.
        """
        reasons = registration_problems(self.pm, module, name)
        if reasons:
            for reason in reasons:
                self._fail(name, source, reason)
            return False
        try:
            self.pm.register(module, name=name)
            self.pm.check_pending()
        except Exception as exc:  # noqa: BLE001 - pluggy validation errors
            # Only undo our own registration (never another plugin's).
            if self.pm.get_plugin(name) is module:
                self.pm.unregister(module)
            self._fail(name, source, f"registration failed: {_explain(exc)}", exc)
            return False
        instruments, reasons = self._instruments_of(module, name)
        if not self.pm.get_hookcallers(module):
            reasons.append("it implements no formengine hook")
        if reasons:
            self.pm.unregister(module)
            for reason in reasons:
                self._fail(name, source, reason)
            return False
        loaded = LoadedPlugin(name=name, source=source, version=version)
        for instrument in instruments:
            self.instruments[instrument.id] = instrument
            self.owner[instrument.id] = name
            loaded.instruments.append(instrument.id)
        self.loaded.append(loaded)
        return True

    def _instruments_of(self, module: Any, name: str) -> tuple[list[Instrument], list[str]]:
        """Call the plugin's ``formengine_instruments`` and check what it returned."""
        instruments: list[Instrument] = []
        reasons: list[str] = []
        impls = [i for i in self.pm.hook.formengine_instruments.get_hookimpls() if i.plugin is module]
        for impl in impls:
            try:
                returned: Any = impl.function()  # a plugin's result: checked below, item by item
                provided = list(returned or [])
            except Exception as exc:  # noqa: BLE001
                log.debug("".join(traceback.format_exception(exc)))
                reasons.append(f"formengine_instruments failed: {_short(exc)}")
                continue
            for instrument in provided:
                if not isinstance(instrument, Instrument):
                    reasons.append(f"formengine_instruments returned {type(instrument).__name__}, "
                                   "not an Instrument")
                    continue
                owner = self.owner.get(instrument.id)
                if owner is not None or any(i.id == instrument.id for i in instruments):
                    reasons.append(
                        f"instrument {instrument.id!r} refused: plugin {owner or name!r} already "
                        f"registered it (plugin {name!r} tried again)"
                    )
                    continue
                instruments.append(dataclasses.replace(instrument, plugin=name))
        return instruments, reasons

    def _fail(self, name: str, source: str, reason: str, exc: BaseException | None = None) -> None:
        self.failed.append(PluginProblem(name=name, source=source, reason=reason))
        # plugin names and reasons only; never answers or personal data
        log.warning("plugin %s (%s) skipped: %s", name, source, reason)
        if exc is not None:
            log.debug("".join(traceback.format_exception(exc)))

    # -- calling plugin code ---------------------------------------------
    def _guarded_calls(self, hook_name: str,
                       kwargs: dict[str, Any]) -> Iterator[tuple[str, Any, HookFailure | None]]:
        """Each implementation of ``hook_name`` in pluggy's order: ``(plugin, value, failure)``."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):  # last registered first
            try:
                value = impl.function(*(kwargs[name] for name in impl.argnames))
            except Exception as exc:  # noqa: BLE001 - plugin code may raise anything
                error = type(exc).__name__
                log.error("plugin %s: hook %s failed with %s", impl.plugin_name, hook_name, error)
                yield impl.plugin_name, None, HookFailure(impl.plugin_name, hook_name, error)
                continue
            yield impl.plugin_name, value, None

    def call_guarded(self, hook_name: str, **kwargs: Any) -> tuple[list[tuple[str, Any]], list[HookFailure]]:
        """Call every implementation of ``hook_name``, in pluggy's order, each guarded on its own.

        Returns ``(results, failures)``: ``results`` are ``(plugin name, value)``
        for every implementation that returned something other than None;
        an implementation that raises is logged with the plugin's name, the hook
        and the error's class (never the message, which may quote answers) and
        listed in ``failures``, and the others still run. Web pages and commands
        call plugin hooks through this, so a plugin bug never fails a request.
        """
        results: list[tuple[str, Any]] = []
        failures: list[HookFailure] = []
        for plugin, value, failure in self._guarded_calls(hook_name, kwargs):
            if failure is not None:
                failures.append(failure)
            elif value is not None:
                results.append((plugin, value))
        return results, failures

    def first_guarded(self, hook_name: str, **kwargs: Any) -> tuple[str | None, Any, list[HookFailure]]:
        """The first non-None result of a ``firstresult`` hook as ``(plugin, value, failures)``.

        Like pluggy, it stops at the first result; implementations that raised
        before it are skipped and reported in ``failures``.
        """
        failures: list[HookFailure] = []
        for plugin, value, failure in self._guarded_calls(hook_name, kwargs):
            if failure is not None:
                failures.append(failure)
            elif value is not None:
                return plugin, value, failures
        return None, None, failures

    def refuse(self, name: str, reasons: list[str]) -> None:
        """Take back a loaded plugin whole (e.g. its new definition would misread stored answers)."""
        loaded = next((p for p in self.loaded if p.name == name), None)
        if loaded is None:
            return
        module = self.pm.get_plugin(name)
        if module is not None:
            self.pm.unregister(module)
        for instrument_id in loaded.instruments:
            self.instruments.pop(instrument_id, None)
            self.owner.pop(instrument_id, None)
        self.loaded.remove(loaded)
        for reason in reasons:
            self._fail(name, loaded.source, reason)

    # -- lookups --------------------------------------------------------
    def get(self, instrument_id: str) -> Instrument | None:
        return self.instruments.get(instrument_id)

    def sorted_instruments(self) -> list[Instrument]:
        return [self.instruments[k] for k in sorted(self.instruments)]


def registration_problems(pm: pluggy.PluginManager, module: Any, name: str) -> list[str]:
    """Why ``module`` cannot be registered as ``name`` in ``pm``, checked before pluggy sees it.

    Pluggy itself checks hook names (``check_pending``) and argument names;
    this adds what it lets through silently: a name or module already
    registered, a ``formengine_*`` function without ``@hookimpl`` (pluggy
    ignores it, so the plugin would load with nothing), and ``REQUIRES_API``.
    """
    reasons = []
    if pm.has_plugin(name):
        reasons.append(f"a plugin named {name!r} is already loaded")
    elif pm.is_registered(module):
        reasons.append(f"this module is already loaded as plugin {pm.get_name(module)!r}")
    for attribute in sorted(vars(module) if hasattr(module, "__dict__") else ()):
        value = getattr(module, attribute, None)
        if (attribute.startswith("formengine_") and callable(value)
                and pm.parse_hookimpl_opts(module, attribute) is None):
            reasons.append(f"{attribute} is not marked with @hookimpl (from formengine import hookimpl), "
                           "so it would never be called")
    required = getattr(module, "REQUIRES_API", None)
    if required is not None:
        try:
            ok = Version(API_VERSION) in SpecifierSet(str(required))
        except InvalidSpecifier:
            reasons.append(f"REQUIRES_API {required!r} is not a version range")
        else:
            if not ok:
                reasons.append(f"needs plugin API {required}, but this formengine provides {API_VERSION}")
    return reasons


def _explain(exc: BaseException) -> str:
    """The whole of a pluggy validation message on one line (its reason is on the later lines)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: " + "; ".join(lines) if lines else type(exc).__name__


def _forget_modules(module_name: str) -> None:
    for key in [k for k in sys.modules if k == module_name or k.startswith(module_name + ".")]:
        del sys.modules[key]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def build_registry(
    plugin_dir: Path | None,
    use_entry_points: bool = True,
    extra: list[tuple[Any, str]] | None = None,
    trace: bool = False,
) -> PluginRegistry:
    """Create a fresh registry: entry points, then drop-ins, then any extra (object, name) pairs."""
    registry = PluginRegistry()
    if trace:
        registry.pm.trace.root.setwriter(lambda msg: log.info("hook: %s", msg.rstrip()))
        registry.pm.enable_tracing()
    if use_entry_points:
        registry.load_entry_points()
    if plugin_dir is not None:
        registry.load_directory(plugin_dir)
    for obj, name in extra or []:
        registry.add(obj, name, "added by the application")
    return registry
