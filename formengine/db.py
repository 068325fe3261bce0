"""The database for one application: engine, request-scoped sessions and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlalchemy import CursorResult, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.state import InstanceState

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
    if not _plain_dialect(dialect):
        return session.scalars(select_where(model, where)).one_or_none()
    columns = keys or tuple(column.key for column in mapper.column_attrs)
    cache_key = (model, columns, tuple(where), dialect.name, dialect.paramstyle)
    plan = _PLAIN.get(cache_key)
    if plan is None:
        plan = _PLAIN.setdefault(cache_key, _plain_query(session, model, columns, tuple(where)))
    query, processors = plan
    rows = _fetch(session, query, where)
    if not rows:
        return None
    if len(rows) > 1:
        raise LookupError(f"{model.__name__}: more than one row for {sorted(where)}")
    return _loaded(session, mapper, columns, rows[0], processors)


def load_plain_with(session: Session, model: Any, where: dict[str, Any], keys: tuple[str, ...] | None,
                    other: Any, other_where: dict[str, Any], same: dict[str, str]) -> tuple[Any, Any]:
    """``load_plain(session, model, where, keys)`` and, in the same statement, one row of ``other``.

    The row of ``other`` is the one where each column in ``other_where``
    equals its value and each column of ``other`` named in ``same`` equals the
    column of ``model`` it maps to (``{"municipality_id": "municipality_id"}``);
    all its columns are read. Returns ``(row, other_row)``: ``(None, None)``
    when there is no row of ``model``, ``(row, None)`` when there is none of
    ``other``. One round trip to the database instead of two. ``other_where``
    must select at most one row.
    """
    dialect = session.get_bind().dialect
    if not _plain_dialect(dialect):
        first = session.scalars(select_where(model, where)).one_or_none()
        if first is None:
            return None, None
        condition = {**other_where, **{key: getattr(first, mine) for key, mine in same.items()}}
        return first, session.scalars(select_where(other, condition)).one_or_none()
    mapper, other_mapper = model.__mapper__, other.__mapper__
    columns = keys or tuple(column.key for column in mapper.column_attrs)
    other_columns = tuple(column.key for column in other_mapper.column_attrs)
    cache_key = (model, columns, tuple(where), other, tuple(other_where), tuple(same.items()), dialect.name,
                 dialect.paramstyle)
    plan = _PLAIN.get(cache_key)
    if plan is None:
        plan = _PLAIN.setdefault(cache_key, _plain_join_query(session, model, columns, tuple(where), other,
                                                              other_columns, tuple(other_where), same))
    query, processors = plan
    params = {**{f"a_{key}": value for key, value in where.items()},
              **{f"b_{key}": value for key, value in other_where.items()}}
    rows = _fetch(session, query, params)
    if not rows:
        return None, None
    if len(rows) > 1:
        raise LookupError(f"{model.__name__}, {other.__name__}: more than one row")
    row, split = rows[0], len(columns)
    first = _loaded(session, mapper, columns, row[:split], processors[:split])
    second_row = row[split:]
    key_positions = [other_columns.index(other_mapper.get_property_by_column(column).key)
                     for column in other_mapper.primary_key]
    if all(second_row[position] is None for position in key_positions):
        return first, None  # no row of ``other`` joined
    return first, _loaded(session, other_mapper, other_columns, second_row, processors[split:])


_PLAIN_WRITES: dict[tuple[Any, ...], tuple[str, list[tuple[str, Any, Any]], bool]] = {}


def execute_plain(session: Session, statement: Any, params: dict[str, Any], *, alone: bool = False) -> int:
    """Run the UPDATE ``statement`` (built once, with bound parameters) with ``params``; the row count.

    Compiled once per set of parameter names and sent to the driver's cursor
    in the session's transaction, with the values converted by the columns'
    own types, as SQLAlchemy's execution would send them; its statement
    caching and result handling cost more than the write.

    ``alone`` says that the caller writes nothing else in this transaction
    and commits right after. On PostgreSQL the statement is then, when it is
    the transaction's first and the session holds no other change, sent as a
    transaction of its own: committed by the server (durably, as any commit)
    before this returns, with no BEGIN and COMMIT round trips; the session's
    commit that follows has nothing left to send.
    """
    dialect = session.get_bind().dialect
    if not _plain_dialect(dialect) or dialect.paramstyle not in ("pyformat", "qmark", "named"):
        return int(cast("CursorResult[Any]", session.execute(statement, params)).rowcount)
    names = tuple(sorted(params))
    cache_key = (statement, names, dialect.name, dialect.paramstyle)
    plan = _PLAIN_WRITES.get(cache_key)
    if plan is None:
        table_columns = set(statement.table.c.keys())
        compiled = statement.compile(dialect=dialect, column_keys=[n for n in names if n in table_columns])
        order = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        binds = [(name, compiled.binds[name].value,
                  compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in order]
        plan = _PLAIN_WRITES.setdefault(cache_key, (compiled.string, binds, bool(compiled.positional)))
    query, binds, positional = plan
    values = [(name, params[name] if name in params else default) for name, default, _p in binds]
    converted = [(name, process(value) if process is not None else value)
                 for (name, value), (_n, _d, process) in zip(values, binds, strict=True)]
    arguments: Any = tuple(value for _n, value in converted) if positional else dict(converted)
    connection = session.connection()
    changed = session.new or session.dirty or session.deleted
    lone = _lone_driver(connection) if alone and not changed else None
    try:
        cursor = connection.connection.cursor()
        try:
            if lone is None:
                cursor.execute(query, arguments)
            else:
                _run_alone(lone, cursor, query, arguments)
            return int(cursor.rowcount)
        finally:
            cursor.close()
    except connection.dialect.loaded_dbapi.Error:
        # Again through SQLAlchemy, which raises its own error for it and drops a broken connection.
        return int(cast("CursorResult[Any]", session.execute(statement, params)).rowcount)


_READ_COMMITTED: Any = None


def _lone_driver(connection: Any) -> Any | None:
    """The psycopg connection under ``connection`` if a statement may run as a transaction of its own now.

    That is when the driver has not begun the session's transaction yet
    (nothing was sent in it) and transactions run at READ COMMITTED, the
    server's default, where every statement sees what was committed when it
    began, inside a transaction or not. None otherwise (and for any other driver).
    """
    global _READ_COMMITTED
    if connection.dialect.driver != "psycopg":
        return None
    driver = connection.connection.driver_connection
    if _READ_COMMITTED is None:
        from psycopg import IsolationLevel

        _READ_COMMITTED = (None, IsolationLevel.READ_COMMITTED)
    if driver.autocommit or driver.isolation_level not in _READ_COMMITTED or driver.pgconn.transaction_status:
        return None  # transaction_status 0: idle, no transaction begun
    return driver


def _run_alone(driver: Any, cursor: Any, query: str, arguments: Any) -> None:
    """Execute one statement as a transaction of its own (no BEGIN, committed by the server)."""
    driver.autocommit = True
    try:
        cursor.execute(query, arguments)
    finally:
        if driver.pgconn.transaction_status == 0:  # idle, as after any statement of its own
            driver.autocommit = False
        else:  # the connection broke: it must not go back to the pool as it is (SQLAlchemy drops it)
            driver.close()


def _plain_dialect(dialect: Any) -> bool:
    return dialect.paramstyle in ("pyformat", "named") or dialect.name == "sqlite"


def _plain_join_query(session: Session, model: Any, keys: tuple[str, ...], where: tuple[str, ...],
                      other: Any, other_keys: tuple[str, ...], other_where: tuple[str, ...],
                      same: dict[str, str]) -> tuple[str, list[Any]]:
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    named = "%({})s" if dialect.paramstyle == "pyformat" else ":{}"

    def column(table_model: Any, key: str) -> str:
        return quote(table_model.__mapper__.column_attrs[key].columns[0].name)

    def processor(table_model: Any, key: str) -> Any:
        return (table_model.__mapper__.column_attrs[key].columns[0].type.dialect_impl(dialect)
                .result_processor(dialect, None))

    selected = ", ".join([f"a.{column(model, key)}" for key in keys] + [f"b.{column(other, key)}"
                                                                        for key in other_keys])
    joined = " AND ".join(
        [f"b.{column(other, key)} = {named.format('b_' + key)}" for key in other_where]
        + [f"b.{column(other, key)} = a.{column(model, mine)}" for key, mine in same.items()])
    condition = " AND ".join(f"a.{column(model, key)} = {named.format('a_' + key)}" for key in where)
    processors = [processor(model, key) for key in keys] + [processor(other, key) for key in other_keys]
    query = (f"SELECT {selected} FROM {quote(model.__table__.name)} a"
             f" LEFT JOIN {quote(other.__table__.name)} b ON {joined} WHERE {condition}")
    return query, processors


def _fetch(session: Session, query: str, params: dict[str, Any]) -> list[Any]:
    """The rows of a plain ``query``, run on the driver's cursor in the session's transaction."""
    connection = session.connection()  # the session's transaction, begun as for any query
    lone = _lone_driver(connection)
    try:
        # The driver's cursor itself: no result description is built for one row of known columns.
        cursor = connection.connection.cursor()
        try:
            if lone is None:
                cursor.execute(query, params)
            else:
                # The transaction's first statement, a read: sent on its own, without a BEGIN round
                # trip (the next statement begins the transaction); at READ COMMITTED it sees the
                # same as it would as the first statement in the transaction.
                _run_alone(lone, cursor, query, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()
    except connection.dialect.loaded_dbapi.Error:
        # Again through SQLAlchemy, which raises its own error for it and drops a broken connection.
        return list(connection.exec_driver_sql(query, params).all())


def _loaded(session: Session, mapper: Any, columns: tuple[str, ...], row: Any, processors: list[Any]) -> Any:
    """The object of one plain row, put into ``session`` as if the ORM had loaded it."""
    values = {key: (process(value) if process is not None else value)
              for key, value, process in zip(columns, row, processors, strict=True)}
    identity = mapper.identity_key_from_primary_key(
        [values[mapper.get_property_by_column(column).key] for column in mapper.primary_key])
    present = session.identity_map.get(identity)
    if present is not None:
        return present  # already in this session: that object, as the ORM would return it
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    if not _ATTACH_AS_LOADED:  # a SQLAlchemy without the internals used below: the public way
        make_transient_to_detached(instance)
        session.add(instance)
        return instance
    # Unchanged, as loaded; the columns not read load on first use (make_transient_to_detached).
    state = instance_state(instance)
    state.key = identity
    state._commit_all(state.dict)
    unloaded = state.unloaded
    if unloaded:
        state._expire_attributes(state.dict, unloaded)
    # Into the session as Session.add puts a detached object there, without walking its
    # relationships for objects to cascade to: none of them is loaded yet, so there are none.
    session._update_impl(state)
    return instance


# SQLAlchemy's own internals (stable through 2.0 and 2.1), checked once rather than trusted blindly.
_ATTACH_AS_LOADED = (all(hasattr(InstanceState, name) for name in ("_commit_all", "_expire_attributes"))
                     and hasattr(Session, "_update_impl"))


def select_where(model: Any, where: dict[str, Any]) -> Any:
    from sqlalchemy import select

    return select(model).where(*(getattr(model, key) == value for key, value in where.items()))
