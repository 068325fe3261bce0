"""Parsing what a request names: ids, integers, dates and choices from URLs, query strings and forms.

Every view reads its parameters through these helpers (and the URL converters
registered by :func:`register_converters`), so a malformed value is refused with
a 400 and a message saying what was expected, and an id no row can have is a
404 -- never a 500 from ``int()`` or from the database.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from flask import Flask, abort, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.routing import BaseConverter, IntegerConverter

# Primary keys are 32-bit integers on PostgreSQL; a larger id names no row.
MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII digits only: int() also accepts "٣" and " 3 "
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class IdConverter(IntegerConverter):
    """``<int:name>`` in every route: ASCII digits, 0 .. 2**31-1; anything else does not match (404)."""

    regex = r"[0-9]{1,18}"

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = 0,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class PublicIdConverter(BaseConverter):
    """``<public_id:name>``: a response's public id (a UUID as stored, lower-case), kept a string."""

    regex = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> str:
        return value.lower()


class SlugConverter(BaseConverter):
    """``<slug:name>``: an instrument or plugin id -- letters, digits, ``_ . -``, at most 64."""

    regex = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"


def register_converters(app: Flask) -> None:
    """Bound ``int`` and add ``public_id`` / ``slug``; call before any route is added."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["public_id"] = PublicIdConverter
    app.url_map.converters["slug"] = SlugConverter


def _values(source: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return request.values if source is None else source


def _raw(name: str, source: Mapping[str, Any] | None) -> str:
    value = _values(source).get(name, "")
    return value.strip() if isinstance(value, str) else ""


def integer(name: str, source: Mapping[str, Any] | None = None, *, default: int | None = None,
            minimum: int | None = None, maximum: int | None = None) -> int | None:
    """An integer parameter (``default`` when absent or empty); 400 when it is not a whole number in range."""
    raw = _raw(name, source)
    if not raw:
        return default
    negative = raw.startswith("-")
    digits = raw[1:] if negative else raw
    if not _DIGITS.fullmatch(digits):
        abort(400, _("%(name)s must be a whole number.", name=name))
    value = -int(digits) if negative else int(digits)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = minimum if minimum is not None else "…"
        high = maximum if maximum is not None else "…"
        abort(400, _("%(name)s must be between %(low)s and %(high)s.", name=name, low=low, high=high))
    return value


def parse_id(raw: str) -> int | None:
    """``raw`` as a row id, or ``None`` when it is not one (not ASCII digits, or out of range)."""
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def identifier(name: str, source: Mapping[str, Any] | None = None) -> int | None:
    """A row id (``None`` when absent or empty): 400 when not a number, 404 when no row can have it."""
    raw = _raw(name, source)
    if not raw:
        return None
    if not _DIGITS.fullmatch(raw):
        abort(400, _("%(name)s must be a whole number.", name=name))
    value = int(raw)
    if not 0 < value <= MAX_ID:
        abort(404)
    return value


def iso_date(name: str, source: Mapping[str, Any] | None = None) -> date | None:
    """A date written YYYY-MM-DD (``None`` when absent or empty); 400 otherwise."""
    raw = _raw(name, source)
    if not raw:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, _("%(value)s is not a date (YYYY-MM-DD).", value=raw[:40]))


def choice(name: str, choices: Collection[str], source: Mapping[str, Any] | None = None, *,
           default: str | None = None) -> str | None:
    """One of ``choices`` (``default`` when absent or empty); 400 for anything else."""
    raw = _raw(name, source)
    if not raw:
        return default
    if raw not in choices:
        abort(400, _("%(name)s: unknown value.", name=name))
    return raw


def text(name: str, source: Mapping[str, Any] | None = None, *, max_length: int = 200,
         default: str = "") -> str:
    """Free text typed by a user (search boxes, names): at most ``max_length``, no control characters."""
    raw = _raw(name, source)
    if not raw:
        return default
    if len(raw) > max_length:
        abort(400, _("%(name)s is too long (at most %(max)d characters).", name=name, max=max_length))
    if has_control_characters(raw):
        abort(400, _("%(name)s contains characters that cannot be stored.", name=name))
    return raw


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """True when ``value`` holds a control character other than tab and line breaks."""
    return bool(_CONTROL.search(value))


def is_uuid(value: str) -> bool:
    return bool(_UUID.fullmatch(value))


def require_form_token() -> None:
    """400 unless the posted form carries a valid form (CSRF) token: for posts with no fields of their own."""
    if not FlaskForm().validate_on_submit():
        abort(400)


class CheckedForm(FlaskForm):
    """A FlaskForm that refuses control characters (NUL, vertical tab ...) in any text field.

    Such characters cannot be stored on PostgreSQL (NUL) or break exports later;
    field lengths are set with ``Length(max=...)`` to the column's length.
    """

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for field in self:
            values = field.raw_data or []
            if any(isinstance(v, str) and has_control_characters(v) for v in values):
                field.errors = [*field.errors, _("This field contains characters that cannot be stored.")]
                ok = False
        return ok
