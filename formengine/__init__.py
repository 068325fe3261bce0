"""formengine: outcome measurement for family-intervention programmes.

``create_app`` builds the whole application; ``hookimpl`` is all a plugin
needs to start (see ``formengine.api`` for the rest of the public API).
``create_app`` is imported on first use, so importing ``formengine.api`` or
``formengine.markers`` does not load the application factory and its imports.
"""

from __future__ import annotations

from typing import Any

from formengine.markers import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "create_app", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from formengine.app import create_app

        return create_app
    raise AttributeError(f"module 'formengine' has no attribute {name!r}")
