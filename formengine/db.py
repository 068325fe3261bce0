"""The database for one application: engine, request-scoped sessions and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

EXTENSION_KEY = "formengine.db"


class Database:
    """Engine and session factory, kept in ``app.extensions["formengine.db"]``."""

    def __init__(self, url: str, **engine_options: Any):
        self.url = url
        # A failed statement must never put its parameters (names, answers, hashes) into a log line.
        engine_options.setdefault("hide_parameters", True)
        if url.startswith("sqlite"):
            engine_options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        self.engine: Engine = create_engine(url, **engine_options)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        from formengine import audit

        audit.install(self.sessionmaker)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session outside a request (CLI, scripts): commits on success, rolls back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def alembic_config(self) -> AlembicConfig:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def upgrade(self, app_role: str | None = None, create_app_role: bool = False) -> list[str]:
        """Create or upgrade the schema to the newest migration(s).

        With ``app_role`` (PostgreSQL), that role then gets the application's
        least privileges on every table (see :mod:`formengine.dbroles`), in the
        same transaction; the statements run are returned.
        """
        cfg = self.alembic_config()
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
            if app_role:
                from formengine.dbroles import grant_app_role

                return grant_app_role(connection, app_role, create=create_app_role)
        return []

    def has_schema(self) -> bool:
        return inspect(self.engine).has_table("alembic_version")


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> Database:
    db = Database(app.config["DATABASE_URL"])
    app.extensions[EXTENSION_KEY] = db

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    return db


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions[EXTENSION_KEY]


def db_session() -> Session:
    """The session of the current application context (one per request)."""
    if "db_session" not in g:
        g.db_session = get_db().sessionmaker()
    return g.db_session
