"""``formengine admin ...``: scripted set-up of municipalities, users and instruments.

Every command refuses bad input with one clear line on stderr, a non-zero
exit and nothing changed, and records what it did in the audit trail (as the
user ``cli``). Passwords are read from a prompt or ``--password-stdin``, never
from the command line, and are never printed or logged.
"""

from __future__ import annotations

import secrets
import sys
from typing import NoReturn

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from formengine import audit
from formengine.models import ROLE_SYSADMIN, ROLES, Municipality, User
from formengine.registry import get_registry

CLI_USER = "cli"


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group("admin")
def admin_group() -> None:
    """Set up municipalities, users and instruments from scripts."""


@admin_group.command("add-municipality")
@click.argument("name")
@click.option("--cpr/--no-cpr", default=False, help="Allow storing CPR numbers (off by default).")
@click.option("--tolerance-weeks", type=click.IntRange(0, 12), default=None,
              help="Weeks either side of a due date a measurement still counts (default 4).")
@with_appcontext
def add_municipality(name: str, cpr: bool, tolerance_weeks: int | None) -> None:
    """Add municipality NAME and seed its measurement plan from the installed plugins."""
    from formengine.catalogue import ensure_plan
    from formengine.db import get_db

    name = name.strip()
    if not name or len(name) > 120:
        _fail("the name must be 1 to 120 characters")
    db = get_db()
    with db.session() as session:
        if session.scalar(select(Municipality).where(Municipality.name == name)) is not None:
            _fail(f"a municipality named {name!r} already exists")
        settings = {} if tolerance_weeks is None else {"tolerance_weeks": tolerance_weeks}
        municipality = Municipality(name=name, cpr_enabled=cpr, settings=settings,
                                    pseudonym_key=secrets.token_hex(32))
        session.add(municipality)
        session.flush()
        ensure_plan(session, get_registry(), municipality)
        audit.record(session, "create", "municipality", municipality.id, {"cpr_enabled": cpr},
                     username=CLI_USER, municipality_id=municipality.id)
        click.echo(f"Municipality {name!r} added (id {municipality.id}).")


@admin_group.command("add-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--municipality", "municipality_name", default=None,
              help="The municipality the user belongs to (not for a system administrator).")
@click.option("--name", "display_name", default="", help="The name shown in the interface.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_appcontext
def add_user(username: str, role: str, municipality_name: str | None, display_name: str,
             password_stdin: bool) -> None:
    """Add a user who logs in as USERNAME (the password is prompted for, or read from stdin)."""
    from formengine.db import get_db
    from formengine.security import hash_secret

    username = username.strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        _fail("the username must be 1 to 80 characters without spaces")
    if role == ROLE_SYSADMIN and municipality_name:
        _fail("a system administrator belongs to no municipality; leave out --municipality")
    if role != ROLE_SYSADMIN and not municipality_name:
        _fail(f"a {role} belongs to one municipality; give --municipality")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        _fail("the password must be at least 8 characters")
    db = get_db()
    with db.session() as session:
        if session.scalar(select(User).where(User.username == username)) is not None:
            _fail(f"the username {username!r} is taken")
        municipality_id = None
        if municipality_name:
            municipality = session.scalar(select(Municipality).where(Municipality.name == municipality_name))
            if municipality is None:
                _fail(f"no municipality named {municipality_name!r}")
            municipality_id = municipality.id
        user = User(username=username, display_name=display_name, password_hash=hash_secret(password),
                    role=role, municipality_id=municipality_id)
        session.add(user)
        session.flush()
        audit.record(session, "create", "user", user.id, {"role": role}, username=CLI_USER,
                     municipality_id=municipality_id)
        click.echo(f"User {username!r} added as {role}.")


@admin_group.command("enable-instrument")
@click.argument("municipality_name")
@click.argument("instrument_id")
@click.option("--disable", is_flag=True, help="Disable instead (collected answers are kept).")
@with_appcontext
def enable_instrument(municipality_name: str, instrument_id: str, disable: bool) -> None:
    """Enable INSTRUMENT_ID for MUNICIPALITY_NAME (prints its licence note)."""
    from formengine.catalogue import CatalogueError, set_enabled
    from formengine.db import get_db

    registry = get_registry()
    instrument = registry.get(instrument_id)
    if instrument is None and not disable:
        known = ", ".join(sorted(registry.instruments)) or "none"
        _fail(f"unknown instrument {instrument_id!r} (installed: {known})")
    db = get_db()
    with db.session() as session:
        municipality = session.scalar(select(Municipality).where(Municipality.name == municipality_name))
        if municipality is None:
            _fail(f"no municipality named {municipality_name!r}")
        try:
            set_enabled(session, registry, municipality, instrument_id, not disable, username=CLI_USER)
        except CatalogueError as exc:
            _fail(str(exc))
        if disable:
            click.echo(f"{instrument_id} disabled for {municipality_name}; collected answers are kept.")
        elif instrument is not None:  # enabling an unknown instrument was refused above
            licence = instrument.definition.licence
            terms = licence.get("terms", {})
            click.echo(f"{instrument_id} enabled for {municipality_name}.")
            text = terms.get("en", "") if isinstance(terms, dict) else terms
            click.echo(f"Licence: {licence.get('holder', '')}: {text}")
