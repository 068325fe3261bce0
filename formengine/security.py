"""Password and PIN hashing (argon2id).

Hashes use argon2-cffi's default profile (RFC 9106, low memory: 64 MiB, three
passes). Only an app configured with ``TESTING`` hashes with the cheapest
parameters, so a test suite that creates hundreds of logins stays fast; such
hashes still verify anywhere, since every hash carries its own parameters.
Outside an app context the strong profile is used.
"""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

STRONG = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
_TESTING_ONLY = PasswordHasher.from_parameters(profiles.CHEAPEST)


def hasher() -> PasswordHasher:
    """The hasher for the current app: the cheapest parameters under ``TESTING``, else the strong profile."""
    if has_app_context() and current_app.config.get("TESTING") is True:
        return _TESTING_ONLY
    return STRONG


def hash_secret(secret: str) -> str:
    return hasher().hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches; False for a wrong secret or an unusable hash."""
    if not stored_hash:
        return False
    try:
        return hasher().verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


_dummy: dict[str, object] = {}


def verify_login(stored_hash: str | None, secret: str) -> bool:
    """Like :func:`verify_secret`, but as slow for an unknown user (``stored_hash`` None) as for a known one.

    Without this a wrong password would answer in milliseconds for a username
    that does not exist and only after a full argon2 verification for one that
    does, telling an attacker which usernames exist.
    """
    if stored_hash:
        return verify_secret(stored_hash, secret)
    # Hashed with the current parameters on first use, so it costs what a real hash costs.
    current = hasher()
    params = (current.time_cost, current.memory_cost, current.parallelism, current.hash_len)
    if _dummy.get("params") != params:
        _dummy.update(params=params, hash=current.hash("no user has this password"))
    verify_secret(str(_dummy["hash"]), secret)
    return False
