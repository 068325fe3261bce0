"""Configuration: defaults, then ``instance/config.py``, then ``FORMENGINE_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # DATABASE_URL defaults to an SQLite file in the instance folder (set in load_config).
    "DATABASE_URL": None,
    # PostgreSQL: the role `formengine init-db` grants the application's least privileges to.
    "DATABASE_APP_ROLE": None,
    "PLUGIN_DIR": None,  # default: <instance>/plugins
    "TEXTS_DIR": None,  # default: <instance>/texts (wording packs)
    "NORMS_DIR": None,  # default: <instance>/norms (norm tables)
    "LOAD_ENTRY_POINTS": True,
    "EXTRA_PLUGINS": [],  # (object, name) pairs; used by tests
    "TRACE_HOOKS": False,
    # True for commands that only read plugins (`formengine score`, `formengine preview`): the app
    # then writes nothing (no instance folder, no secret key file) and never opens the database.
    "STATELESS": False,
    # Background jobs (formengine.jobs): "auto" picks huey's SQLite storage for an SQLite
    # database and its SQL storage for PostgreSQL ("immediate" under TESTING).
    "JOBS_BACKEND": "auto",
    "JOBS_DATABASE_URL": None,  # default: DATABASE_URL
    # A session ends after this much inactivity, and this long after login however active it is.
    "SESSION_TIMEOUT_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    # Practice fills (no person, no round) are deleted this many days after their last change.
    "PRACTICE_KEEP_DAYS": 7,
    # A municipality administrator refused this many login names (taken, here or elsewhere) within an
    # hour may add no user until the hour has passed: usernames cannot be used to probe other
    # municipalities for their staff's login names.
    "USERNAME_REFUSALS_PER_HOUR": 5,
    # "Today" (what is due, ages) and the times shown on pages are in this zone; times are stored in UTC.
    "TIMEZONE": "Europe/Copenhagen",
    "BABEL_DEFAULT_LOCALE": "da",
    "LANGUAGES": ["da", "en"],
    # A tablet form may stay open for a long time; the token lives as long as the session.
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # The cookie is re-sent when the session changes, not on every request: web/sessions.py
    # refreshes the last-seen time (and so the cookie's expiry) at most every 30 seconds.
    "SESSION_REFRESH_EACH_REQUEST": False,
    # Sent over HTTPS only; FORMENGINE_SESSION_COOKIE_SECURE=false for local development over http.
    "SESSION_COOKIE_SECURE": True,
}


def load_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("FORMENGINE")
    if overrides:
        app.config.from_mapping(overrides)

    instance = Path(app.instance_path)
    if not app.config["STATELESS"]:
        instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'formengine.db'}"
    for key, sub in (("PLUGIN_DIR", "plugins"), ("TEXTS_DIR", "texts"), ("NORMS_DIR", "norms")):
        app.config[key] = Path(app.config[key] or instance / sub)
    if app.config.get("SECRET_KEY") is None:
        app.config["SECRET_KEY"] = (secrets.token_hex(32) if app.config["STATELESS"]
                                    else _instance_secret(instance / "secret_key"))
    if not str(app.config["SECRET_KEY"]).strip():
        raise ConfigError("the secret key is empty: set FORMENGINE_SECRET_KEY to a long random value "
                          "(or unset it to keep a generated key in the instance folder)")
    try:
        ZoneInfo(str(app.config["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {app.config['TIMEZONE']!r}: set FORMENGINE_TIMEZONE to a "
                          "name such as Europe/Copenhagen") from None


class ConfigError(RuntimeError):
    """The configuration cannot run the application; the message says what to change."""


def _instance_secret(path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive a restart.

    Several workers may start at once: the key is written to a private temporary
    file, flushed to disk, then linked into place, which fails if another worker
    got there first (its key is then used). No process ever reads a half-written key.
    """
    if not path.exists():
        key = secrets.token_hex(32)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)  # atomic, and never replaces another worker's key
            except FileExistsError:
                pass
        finally:
            temporary.unlink(missing_ok=True)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"the secret key file {path} is empty: delete it to have a new one created, "
                          "or set FORMENGINE_SECRET_KEY")
    return key


def instance_path() -> str | None:
    """``FORMENGINE_INSTANCE_PATH`` moves the instance folder (database, plugins, packs)."""
    return os.environ.get("FORMENGINE_INSTANCE_PATH") or None
