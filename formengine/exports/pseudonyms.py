"""Keyed pseudonyms: stable per municipality, not reversible without the municipality's key.

A pseudonym is HMAC-SHA256 over the record's kind and database id, keyed by
``Municipality.pseudonym_key``. The same person gets the same pseudonym in
every export of that municipality, so evaluators can join files; someone
without the key cannot recompute or reverse it, and the pseudonyms of two
municipalities cannot be linked.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine.models import Municipality

PREFIXES = {"person": "P", "family": "F", "response": "R"}


def pseudonym(key: str, kind: str, record_id: int) -> str:
    """``P3f9a...`` (16 hex digits, 64 bits) for ``kind`` "person", "family" or "response"."""
    if not key:
        raise ValueError("the municipality has no pseudonym key")
    digest = hmac.new(key.encode("utf-8"), f"{kind}:{record_id}".encode(), hashlib.sha256).hexdigest()
    return PREFIXES.get(kind, "X") + digest[:16]


class Pseudonymiser:
    """Looks up each municipality's key once and pseudonymises ids with it."""

    def __init__(self, session: Session):
        self._keys = dict(session.execute(select(Municipality.id, Municipality.pseudonym_key)).all())
        self._macs: dict[int, hmac.HMAC] = {}
        self._cache: dict[tuple[int, str, int], str] = {}

    def __call__(self, municipality_id: int | None, kind: str, record_id: int | None) -> str:
        if record_id is None or municipality_id is None:
            return ""
        key = (municipality_id, kind, record_id)
        found = self._cache.get(key)
        if found is None:
            found = self._compute(municipality_id, kind, record_id)
            if kind != "response":  # each response appears once per export: not worth keeping
                if len(self._cache) > 200_000:  # bounded: exports stream, the cache must not grow
                    self._cache.clear()
                self._cache[key] = found
        return found

    def _compute(self, municipality_id: int, kind: str, record_id: int) -> str:
        mac = self._macs.get(municipality_id)
        if mac is None:
            secret = self._keys[municipality_id]
            if not secret:
                raise ValueError("the municipality has no pseudonym key")
            mac = self._macs[municipality_id] = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
        mac = mac.copy()  # reuse the keyed state; the result equals pseudonym()
        mac.update(f"{kind}:{record_id}".encode())
        return PREFIXES.get(kind, "X") + mac.hexdigest()[:16]
