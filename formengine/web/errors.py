"""Error pages: a clear message, in the user's language, and nothing changed."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


def render_error(status: int, message: str | None = None):
    titles = {
        400: _("The request could not be accepted"),
        403: _("You do not have access to this"),
        404: _("Not found"),
        409: _("Someone else changed this first"),
        429: _("Too many attempts"),
    }
    title = titles.get(status, _("Something went wrong"))
    return render_template("error.html", title=title, message=message, status=status), status


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return render_error(exc.code, exc.description if exc.code in (400, 409, 429) else None)
