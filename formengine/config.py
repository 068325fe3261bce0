"""Configuration: defaults, then ``instance/config.py``, then ``FORMENGINE_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # DATABASE_URL defaults to an SQLite file in the instance folder (set in load_config).
    "DATABASE_URL": None,
    "PLUGIN_DIR": None,  # default: <instance>/plugins
    "TEXTS_DIR": None,  # default: <instance>/texts (wording packs)
    "NORMS_DIR": None,  # default: <instance>/norms (norm tables)
    "LOAD_ENTRY_POINTS": True,
    "EXTRA_PLUGINS": [],  # (object, name) pairs; used by tests
    "TRACE_HOOKS": False,
    # Background jobs (formengine.jobs): "auto" picks huey's SQLite storage for an SQLite
    # database and its SQL storage for PostgreSQL ("immediate" under TESTING).
    "JOBS_BACKEND": "auto",
    "JOBS_DATABASE_URL": None,  # default: DATABASE_URL
    "SESSION_TIMEOUT_MINUTES": 30,
    # Practice fills (no person, no round) are deleted this many days after their last change.
    "PRACTICE_KEEP_DAYS": 7,
    "BABEL_DEFAULT_LOCALE": "da",
    "LANGUAGES": ["da", "en"],
    # A tablet form may stay open for a long time; the token lives as long as the session.
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}


def load_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("FORMENGINE")
    if overrides:
        app.config.from_mapping(overrides)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'formengine.db'}"
    for key, sub in (("PLUGIN_DIR", "plugins"), ("TEXTS_DIR", "texts"), ("NORMS_DIR", "norms")):
        app.config[key] = Path(app.config[key] or instance / sub)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")


def _instance_secret(path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive a restart."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def instance_path() -> str | None:
    """``FORMENGINE_INSTANCE_PATH`` moves the instance folder (database, plugins, packs)."""
    return os.environ.get("FORMENGINE_INSTANCE_PATH") or None
