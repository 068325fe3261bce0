"""The public API for plugins: the only formengine module a plugin imports (with ``formengine.testing``).

Everything else in ``formengine`` is private and may change between releases.
``API_VERSION`` follows semantic versioning: a plugin declares the range it
supports with a module attribute ``REQUIRES_API = ">=1.0,<2"`` and is refused
at load, with a message naming it, when the running core is outside that range.
"""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from formengine.instruments import (
    AnswerError,
    AnswerRefused,
    Definition,
    DefinitionError,
    Flag,
    Instrument,
    Migration,
    Reliability,
    ScoreResult,
    ScoringContext,
    Setting,
    band_for,
    code_key,
    load_definition,
    round_half_up,
    text,
)
from formengine.markers import hookimpl

API_VERSION = "1.0"

__all__ = [
    "API_VERSION",
    "AnswerError",
    "AnswerRefused",
    "Definition",
    "DefinitionError",
    "Flag",
    "Instrument",
    "Markup",
    "Migration",
    "PluginTemplateError",
    "Reliability",
    "ScoreResult",
    "ScoringContext",
    "Setting",
    "band_for",
    "code_key",
    "escape",
    "hookimpl",
    "load_definition",
    "render_plugin_template",
    "round_half_up",
    "text",
]


class PluginTemplateError(LookupError):
    """A plugin asked for a template that is not in its own namespace or does not exist."""


def render_plugin_template(package: str, name: str, /, **context: Any) -> Markup:
    """Render one of a plugin's own Jinja templates to HTML (``Markup``), autoescaped.

    ``package`` is the plugin's package name (pass ``__package__`` or ``__name__``);
    its templates live in ``<package dir>/templates/<namespace>/``, where the
    namespace is the package's last name (``formengine_plugins.ics`` -> ``ics``; a drop-in
    ``instance/plugins/ics`` also -> ``ics``). ``name`` must start with that
    namespace, e.g. ``"ics/triangle.html"``, so one plugin can never pick up, or
    shadow, another plugin's or the core's templates. Every value in ``context``
    is escaped unless it is already ``Markup``; undefined names are an error,
    not a silent blank. The helper ``text(value, lang)`` is available in templates, and
    the filter ``number`` formats a figure as the core does: ``{{ mean|number(1, lang) }}``
    gives ``5,7`` for Danish readers and ``5.7`` for English ones (rounded half up).
    """
    module = sys.modules.get(package) or importlib.import_module(package)
    origin = getattr(module, "__file__", None)
    if not origin:
        raise PluginTemplateError(f"{package} has no files on disk to hold templates")
    namespace = _template_namespace(package)
    if not name.startswith(namespace + "/") or ".." in name.split("/"):
        raise PluginTemplateError(
            f"template {name!r} is outside the namespace of {package}: use {namespace}/<file>"
        )
    environment = _plugin_environment(str(Path(origin).parent / "templates"))
    try:
        template = environment.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise PluginTemplateError(f"{package} has no template {name!r}") from exc
    return Markup(template.render(**context))


def _template_namespace(package: str) -> str:
    last = package.rsplit(".", 1)[-1]
    # instance/plugins/<name> is imported as formengine_dropin_<name> (see plugins.py)
    return last.removeprefix("formengine_dropin_")


@functools.lru_cache(maxsize=64)
def _plugin_environment(directory: str) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,  # every template, whatever its suffix
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["text"] = text
    environment.filters["number"] = _number
    return environment


def _number(value: float | None, digits: int = 1, lang: str | None = None) -> str:
    """Template filter ``{{ value|number(1, lang) }}``: rounded half up, in the reader's locale."""
    from formengine.numbers import format_figure, reader_locale

    return format_figure(value, digits, lang or reader_locale())
