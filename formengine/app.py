"""The application factory."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask

from formengine import db as database
from formengine.config import instance_path, load_config
from formengine.plugins import build_registry
from formengine.registry import REGISTRY_KEY


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, database, plugins, extensions, blueprints.

    Nothing is set up at import time; every app gets its own plugin manager,
    kept in ``app.extensions["formengine.plugins"]``.
    """
    app = Flask(
        "formengine",
        instance_path=(config or {}).get("INSTANCE_PATH") or instance_path(),
        instance_relative_config=True,
    )
    load_config(app, config)
    app.permanent_session_lifetime = timedelta(minutes=int(app.config["SESSION_TIMEOUT_MINUTES"]))
    logging.getLogger("formengine").setLevel(app.config.get("LOG_LEVEL", "INFO"))

    database.init_app(app)
    app.extensions[REGISTRY_KEY] = build_registry(
        app.config["PLUGIN_DIR"],
        use_entry_points=app.config["LOAD_ENTRY_POINTS"],
        extra=list(app.config["EXTRA_PLUGINS"]),
        trace=bool(app.config["TRACE_HOOKS"]),
    )
    if not app.config["STATELESS"]:
        _check_definition_versions(app)

    from formengine.web import init_web

    init_web(app)
    return app


def _check_definition_versions(app: Flask) -> None:
    """Refuse plugins whose new definition versions would misread stored answers (a small-table read)."""
    from formengine.db import get_db
    from formengine.definition_versions import check_registry

    with get_db(app).session() as session:
        check_registry(session, app.extensions[REGISTRY_KEY])
