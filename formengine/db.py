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
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

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


# -- plain loading of one row --------------------------------------------------------------

_PLAIN: dict[tuple[Any, ...], tuple[str, list[Any]]] = {}


def _plain_query(session: Session, model: Any, keys: tuple[str, ...],
                 where: tuple[str, ...]) -> tuple[str, list[Any]]:
    dialect = session.get_bind().dialect
    attrs = model.__mapper__.column_attrs
    quote = dialect.identifier_preparer.quote
    named = "%({})s" if dialect.paramstyle == "pyformat" else ":{}"  # sqlite3 takes named ones too
    columns = ", ".join(quote(attrs[key].columns[0].name) for key in keys)
    condition = " AND ".join(f"{quote(attrs[key].columns[0].name)} = {named.format(key)}" for key in where)
    # The types' own conversions of what the driver returns (JSON on SQLite, UTC times, booleans).
    processors = [attrs[key].columns[0].type.dialect_impl(dialect).result_processor(dialect, None)
                  for key in keys]
    return f"SELECT {columns} FROM {quote(model.__table__.name)} WHERE {condition}", processors


def load_plain(session: Session, model: Any, where: dict[str, Any],
               keys: tuple[str, ...] | None = None) -> Any:
    """The one row of ``model`` where each column in ``where`` equals its value, or None.

    The same object the session would load (in its identity map, unchanged,
    lazy relationships), read with a statement written once and sent to the
    driver as it is, in the session's transaction: a request's hot lookups skip
    the ORM's query building and loading and SQLAlchemy's result handling,
    which cost more than the query. ``keys`` are the columns
    read now (default: all); the others load when first used. ``where`` must
    select at most one row (a primary or unique key).
    """
    mapper = model.__mapper__
    dialect = session.get_bind().dialect
    if dialect.paramstyle not in ("pyformat", "named") and dialect.name != "sqlite":
        return session.scalars(select_where(model, where)).one_or_none()
    columns = keys or tuple(column.key for column in mapper.column_attrs)
    cache_key = (model, columns, tuple(where), dialect.name, dialect.paramstyle)
    plan = _PLAIN.get(cache_key)
    if plan is None:
        plan = _PLAIN.setdefault(cache_key, _plain_query(session, model, columns, tuple(where)))
    query, processors = plan
    connection = session.connection()  # the session's transaction, begun as for any query
    try:
        # The driver's cursor itself: no result description is built for one row of known columns.
        cursor = connection.connection.cursor()
        try:
            cursor.execute(query, where)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    except connection.dialect.loaded_dbapi.Error:
        # Again through SQLAlchemy, which raises its own error for it and drops a broken connection.
        rows = list(connection.exec_driver_sql(query, where).all())
    if not rows:
        return None
    if len(rows) > 1:
        raise LookupError(f"{model.__name__}: more than one row for {sorted(where)}")
    values = {key: (process(value) if process is not None else value)
              for key, value, process in zip(columns, rows[0], processors, strict=True)}
    identity = mapper.identity_key_from_primary_key(
        [values[mapper.get_property_by_column(column).key] for column in mapper.primary_key])
    present = session.identity_map.get(identity)
    if present is not None:
        return present  # already in this session: that object, as the ORM would return it
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)  # unchanged, as loaded; the columns not read load on first use
    session.add(instance)
    return instance


def select_where(model: Any, where: dict[str, Any]) -> Any:
    from sqlalchemy import select

    return select(model).where(*(getattr(model, key) == value for key, value in where.items()))
