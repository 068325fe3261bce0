"""Error pages and error logging: a clear message, in the user's language, and nothing changed.

Whatever fails, the log gets the route, the error class, where in the code it
happened and a correlation id that the error page shows the user, so a report
("error abc123") can be found in the log. It never gets values: no exception
message (a database error quotes the SQL parameters, a parser quotes its
input), no form data, no query string. The database engine hides SQL
parameters too (``hide_parameters=True`` in :mod:`formengine.db`).
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from flask import Flask, g, has_request_context, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

log = logging.getLogger("formengine.errors")


def render_error(status: int, message: str | None = None):
    titles = {
        400: _("The request could not be accepted"),
        403: _("You do not have access to this"),
        404: _("Not found"),
        409: _("Someone else changed this first"),
        429: _("Too many attempts"),
    }
    title = titles.get(status, _("Something went wrong"))
    return render_template("error.html", title=title, message=message, status=status,
                           correlation_id=g.get("correlation_id") if status >= 500 else None), status


def _where(tb: TracebackType | None) -> str:
    """File, line and function of the project's frames and the innermost one (never values)."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if "/formengine/" in f.filename or "/plugins/" in f.filename]
    chosen = ours[-5:] + ([frames[-1]] if frames and (not ours or ours[-1] is not frames[-1]) else [])
    return " < ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
                      for frame in reversed(chosen))


def log_failure(exc: BaseException, where: str = "request") -> str:
    """Log one failure without any values; returns the correlation id to show the user."""
    correlation_id = secrets.token_hex(6)
    route = "-"
    method = "-"
    if has_request_context():
        route = request.url_rule.rule if request.url_rule is not None else "(no route)"
        method = request.method
        g.correlation_id = correlation_id
    log.error("%s failed: %s %s %s.%s [error %s] at %s", where, method, route,
              type(exc).__module__, type(exc).__qualname__, correlation_id, _where(exc.__traceback__))
    return correlation_id


class StreamAborted(RuntimeError):
    """A download failed part-way; the server ends the response so the file is visibly incomplete."""


def safe_stream(chunks: Iterable[Any]) -> Iterator[Any]:
    """Stream ``chunks``; a failure is logged without values and ends the download."""
    try:
        yield from chunks
    except Exception as exc:  # noqa: BLE001 - everything is logged without values, then re-raised bare
        correlation_id = log_failure(exc, "download")
        raise StreamAborted(f"download stopped [error {correlation_id}]") from None


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.code >= 500:
            log_failure(exc)
        # A message the view gave (e.g. why a practice fill is refused) is shown; werkzeug's default,
        # English and generic, only for the codes whose pages have no better one.
        own = exc.description != type(exc).description
        return render_error(exc.code, exc.description if own or exc.code in (400, 409, 429) else None)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log_failure(exc)
        # Nothing of the failed request is kept, and the error page can still use the database.
        session = g.get("db_session")
        if session is not None:
            session.rollback()
        return render_error(500)

    def _log_exception(exc_info: Any) -> None:
        # Flask's own logging of unhandled errors would print the message; ours prints no values.
        log_failure(exc_info[1] if exc_info and exc_info[1] is not None else RuntimeError())

    app.log_exception = _log_exception  # type: ignore[method-assign]

    @app.before_request
    def _refuse_nul_bytes():
        # Databases refuse NUL in text; refuse it here with a clear message, before anything is stored.
        for values in (request.args, request.form):
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    return render_error(400, _("The text contains a NUL character, which cannot be "
                                               "stored. Remove it and try again."))
        return None
