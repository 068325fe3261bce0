"""Least privilege on PostgreSQL: the role the application connects as, and what it may do.

The owner role (the one that runs ``formengine init-db``) owns every table and
runs the migrations. The application connects as a separate role that may
read and write the family data but, on the audit trail, only INSERT and
SELECT: it cannot UPDATE, DELETE or TRUNCATE events, disable the append-only
trigger, or change any table's structure (only an owner may). On the chain's
head row it may SELECT and UPDATE (appending moves the head), not DELETE.

:func:`grant_app_role` is run after every upgrade (``formengine init-db
--app-role NAME``, or ``FORMENGINE_DATABASE_APP_ROLE``), so tables a later
migration adds are covered too.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables the application may not change freely, and exactly what it may do on them.
RESTRICTED = {
    "audit_event": ("SELECT", "INSERT"),
    "audit_chain": ("SELECT", "UPDATE"),
    "alembic_version": ("SELECT",),
}


class RoleError(ValueError):
    """The role cannot be set up as asked; the message says why."""


def grant_app_role(connection: Connection, role: str, *, create: bool = False) -> list[str]:
    """Give ``role`` the application's privileges (and only those); returns the statements run.

    ``create`` makes a LOGIN role first if it does not exist. Its password is
    set by the database administrator (``\\password NAME`` in psql), so it
    never passes through formengine or its logs.
    """
    if connection.dialect.name != "postgresql":
        raise RoleError("database roles exist on PostgreSQL only; SQLite has no roles")
    if not ROLE_NAME.match(role):
        raise RoleError(f"{role!r} is not a plain role name (lower-case letters, digits and _)")
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if role == owner:
        raise RoleError("the application's role must not be the owner that runs the migrations")
    quoted = connection.dialect.identifier_preparer.quote(role)
    statements: list[str] = []

    def run(sql: str) -> None:
        connection.execute(text(sql))
        statements.append(sql)

    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if not exists:
        if not create:
            raise RoleError(f"role {role} does not exist (create it, or pass --create-app-role)")
        run(f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
    database = connection.dialect.identifier_preparer.quote(
        connection.execute(text("SELECT current_database()")).scalar_one())
    schema = connection.dialect.identifier_preparer.quote(
        connection.execute(text("SELECT current_schema()")).scalar_one())
    run(f"GRANT CONNECT ON DATABASE {database} TO {quoted}")
    run(f"GRANT USAGE ON SCHEMA {schema} TO {quoted}")
    run(f"REVOKE CREATE ON SCHEMA {schema} FROM {quoted}")
    run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quoted}")
    run(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {schema} FROM {quoted}")
    for table, allowed in RESTRICTED.items():
        run(f"REVOKE ALL ON {schema}.{table} FROM {quoted}")
        run(f"GRANT {', '.join(allowed)} ON {schema}.{table} TO {quoted}")
    run(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}")
    return statements
