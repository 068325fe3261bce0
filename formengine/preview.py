"""A definition's every step as one HTML page, for plugin authors (``formengine preview``).

No database and no login: the page is rendered with the same question
macros the tablet stepper uses, every item shown (display conditions are
named under the question instead of evaluated), and the app's stylesheet
inlined so the file opens in any browser. :func:`watched_files` lists what
``formengine run --reload`` watches besides Python modules: definition files,
templates and the instance folder's plugins, wording and norm packs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from flask_babel import force_locale
from markupsafe import Markup

from formengine.instruments import Definition
from formengine.instruments.codec import code_key

WATCHED_SUFFIXES = (".json", ".html", ".txt", ".css", ".js")


class _NoResponse:
    """What the question macros read of a response: nothing declined yet."""

    declined: list[str] = []
    uuid = "preview"
    version = 0


def render_preview(app: Flask, definition: Definition, lang: str = "da") -> str:
    """Every page of ``definition`` in ``lang``, as one standalone HTML document."""
    from formengine.texts import ProjectLabels

    def widget(item: Any, definition: Definition, value: Any, lang: str, texts: Any) -> Markup | None:
        if "widget" not in item:
            return None
        from formengine.registry import get_registry

        _plugin, html, _failures = get_registry(app).first_guarded(
            "formengine_render_widget", item=item, definition=definition, value=value, lang=lang, texts=texts)
        return Markup(html) if html is not None else None

    css = (Path(app.static_folder or "") / "formengine.css").read_text("utf-8")
    pages = [(page, [definition.items_by_id[i] for i in page["items"] if i in definition.items_by_id])
             for page in definition.pages]
    with app.test_request_context(), force_locale(lang):
        return render_template(
            "preview.html", definition=definition, pages=pages, lang=lang, texts=ProjectLabels(definition),
            values={}, response=_NoResponse(), widget=widget, code_key=code_key, css=Markup(css))


def watched_files(app: Flask) -> list[str]:
    """Files the development server's reloader watches besides Python modules."""
    from formengine.registry import get_registry

    roots: set[Path] = set()
    for plugin in get_registry(app).pm.get_plugins():
        module = sys.modules.get(getattr(plugin, "__name__", ""), None)
        path = getattr(module, "__file__", None)
        if path:
            roots.add(Path(path).parent)
    for key in ("PLUGIN_DIR", "TEXTS_DIR", "NORMS_DIR"):
        roots.add(Path(app.config[key]))
    roots.add(Path(app.root_path) / "templates")
    return sorted({str(p) for root in roots for p in _files(root)})


def _files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for path in root.rglob("*"):
        if path.suffix in WATCHED_SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
            yield path
