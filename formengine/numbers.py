"""Numbers for people to read, in the reader's locale (54,1 in Danish, 54.1 in English)."""

from __future__ import annotations

from babel.numbers import format_decimal

from formengine.instruments import round_half_up


def format_figure(value: float | None, digits: int = 1, locale: str = "da") -> str:
    """Round half up to ``digits`` decimals and format with the locale's marks; ``None`` is a dash."""
    if value is None:
        return "–"
    rounded = round_half_up(value, digits)  # half away from zero, negatives too
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(rounded, format=pattern, locale=locale)


def reader_locale() -> str:
    """The locale of the page being rendered (Flask-Babel's), or Danish outside a request."""
    from flask import has_request_context

    if has_request_context():
        from flask_babel import get_locale

        return str(get_locale() or "da")
    return "da"
