"""formengine: outcome measurement for family-intervention programmes.

``create_app`` builds the whole application; ``hookimpl`` is all a plugin
needs to start (see ``formengine.api`` for the rest of the public API).
"""

from __future__ import annotations

__version__ = "0.1.0"

from formengine.app import create_app  # noqa: E402
from formengine.markers import hookimpl  # noqa: E402

__all__ = ["__version__", "create_app", "hookimpl"]
