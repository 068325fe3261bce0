"""Per-application lookups: the plugin registry and other values cached in ``app.extensions``.

These live beside the registry they hand out, not in the factory module, so a
view or service can ask for them without importing ``create_app`` (as flaskr
keeps ``get_db`` in ``db.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from formengine.plugins import PluginRegistry

REGISTRY_KEY = "formengine.plugins"

_extension_lock = threading.Lock()


def get_registry(app: Flask | None = None) -> PluginRegistry:
    """The plugin registry of ``app`` (default: the current application)."""
    return (app or current_app).extensions[REGISTRY_KEY]


def current_flask_app() -> Flask:
    """The application behind ``flask.current_app``: the object itself, to keep or hand on, not the proxy."""
    # current_app is a werkzeug LocalProxy that the type stubs present as Flask itself
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def cached_extension(app: Flask, key: str, build: Callable[[], Any]) -> Any:
    """``app.extensions[key]``, built by ``build()`` on first use (once, even with threads)."""
    value = app.extensions.get(key)
    if value is None:
        with _extension_lock:
            value = app.extensions.get(key)
            if value is None:
                value = app.extensions[key] = build()
    return value


def instrument_definitions(app: Flask) -> dict[str, Any]:
    """Instrument id -> definition, for everything registered in ``app``."""
    return {i.id: i.definition for i in get_registry(app).instruments.values()}
