"""Demo data: two municipalities and their demo logins (all with password ``demo``)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine.models import (
    ROLE_MUNICIPALITY_ADMIN,
    ROLE_SYSADMIN,
    ROLE_TEAM_MEMBER,
    Municipality,
    User,
)
from formengine.plugins import PluginRegistry
from formengine.security import hash_secret

DEMO_PASSWORD = "demo"
MUNICIPALITIES = ("Demo Kommune A", "Demo Kommune B")
USERS = (
    ("sysadmin", "System administrator", ROLE_SYSADMIN, None),
    ("admin-a", "Administrator A", ROLE_MUNICIPALITY_ADMIN, "Demo Kommune A"),
    ("team-a", "Team A", ROLE_TEAM_MEMBER, "Demo Kommune A"),
    ("admin-b", "Administrator B", ROLE_MUNICIPALITY_ADMIN, "Demo Kommune B"),
    ("team-b", "Team B", ROLE_TEAM_MEMBER, "Demo Kommune B"),
)


def load_demo(session: Session, registry: PluginRegistry) -> str:
    """Create what is missing; running it twice changes nothing."""
    municipalities = {}
    for name in MUNICIPALITIES:
        municipality = session.scalar(select(Municipality).where(Municipality.name == name))
        if municipality is None:
            municipality = Municipality(name=name, pseudonym_key=secrets.token_hex(32))
            session.add(municipality)
            session.flush()
        municipalities[name] = municipality
    password_hash = hash_secret(DEMO_PASSWORD)
    for username, display, role, municipality_name in USERS:
        if session.scalar(select(User).where(User.username == username)) is None:
            session.add(User(
                username=username,
                display_name=display,
                password_hash=password_hash,
                pin_hash=hash_secret("1234"),
                role=role,
                municipality_id=municipalities[municipality_name].id if municipality_name else None,
            ))
    session.flush()
    return (
        "Demo data loaded: municipalities " + ", ".join(MUNICIPALITIES)
        + "; logins " + ", ".join(u[0] for u in USERS) + f" (password '{DEMO_PASSWORD}'; demonstration only)."
    )
