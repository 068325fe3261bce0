"""Sessions that can be ended: a per-user session version plus idle and absolute time limits.

The session lives in a signed cookie, so a copy of the cookie would otherwise
stay valid for as long as it is used. Each session therefore carries the
user's ``session_version`` at login; raising the version (logout, password
change, deactivation, an administrator's "end all sessions") makes every
copy of every session of that user invalid at its next request. The check
costs nothing extra: the user row is loaded on every request anyway.

``SESSION_TIMEOUT_MINUTES`` ends a session after that much inactivity and
``SESSION_MAX_HOURS`` ends it that long after login, however active it is.

The signed-in user is read on every request (:func:`load_user`) with one
plain query of the columns a request needs, not through the ORM's loading
(which cost about as much as the query itself). A request about one response
(the stepper's routes) reads that response, scoped to the user's
municipality, in the same query (:func:`load_user_and_response`).
"""

from __future__ import annotations

import time

from flask import current_app, session
from sqlalchemy.orm import Session

from formengine.db import load_plain, load_plain_with
from formengine.models import Response, User

VERSION_KEY = "_sv"
LOGIN_AT_KEY = "_login_at"
SEEN_AT_KEY = "_seen_at"
# Refresh the last-seen time at most this often, so most requests leave the cookie unchanged.
SEEN_RESOLUTION_SECONDS = 30


# Read on every request; the password and PIN hashes and the times load when first used.
_LOADED = ("id", "username", "display_name", "role", "municipality_id", "language", "active",
           "session_version")


def load_user(dbs: Session, user_id: int) -> User | None:
    """The user ``user_id`` in ``dbs``, as if the session had loaded it (None if there is none)."""
    user: User | None = load_plain(dbs, User, {"id": user_id}, keys=_LOADED)
    return user


def load_user_and_response(dbs: Session, user_id: int,
                           response_uuid: str) -> tuple[User | None, Response | None]:
    """The user ``user_id`` and, in the same query, the response ``response_uuid`` of their municipality.

    The response is None when there is none with that id in the user's
    municipality (the condition :func:`formengine.web.access.scope` adds); a
    user without a municipality (a system administrator) gets None, and their
    lookup goes through ``scope()`` as before.
    """
    user, response = load_plain_with(dbs, User, {"id": user_id}, _LOADED, Response, {"uuid": response_uuid},
                                     same={"municipality_id": "municipality_id"})
    return user, response


def start(user: User) -> None:
    """Mark the current session as belonging to ``user`` at their current session version."""
    now = int(time.time())
    session[VERSION_KEY] = user.session_version
    session[LOGIN_AT_KEY] = now
    session[SEEN_AT_KEY] = now


def end_all(user: User) -> None:
    """End every session of ``user``, on every device, at its next request (the caller commits)."""
    user.session_version = (user.session_version or 0) + 1


def is_valid(user: User) -> bool:
    """True when the current session may act as ``user``; refreshes the last-seen time."""
    if session.get(VERSION_KEY) != user.session_version:
        return False
    now = int(time.time())
    login_at = session.get(LOGIN_AT_KEY)
    seen_at = session.get(SEEN_AT_KEY)
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return False
    config = current_app.config
    if now - seen_at > int(config["SESSION_TIMEOUT_MINUTES"]) * 60:
        return False
    if now - login_at > float(config["SESSION_MAX_HOURS"]) * 3600:
        return False
    if now - seen_at >= SEEN_RESOLUTION_SECONDS:
        session[SEEN_AT_KEY] = now
    return True


def clear(keep_language: bool = True) -> None:
    """Empty the session cookie, keeping only the chosen interface language."""
    lang = session.get("lang")
    session.clear()
    if keep_language and lang:
        session["lang"] = lang
