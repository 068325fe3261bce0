"""htmx: the request helper (Flask-HTMX) and replies that behave the same for htmx and plain form posts."""

from __future__ import annotations

from flask import redirect
from flask_htmx import HTMX
from flask_htmx import make_response as htmx_response
from werkzeug.wrappers import Response

# Truthy inside a request made by htmx; its attributes read the other HX-* request headers.
htmx = HTMX()


def redirect_to(location: str) -> Response:
    """A 303 redirect; for htmx an ``HX-Redirect`` (htmx would otherwise swap the target page in)."""
    if htmx:
        return htmx_response("", 204, redirect=location)
    return redirect(location, 303)


def vary_on_htmx(response: Response) -> Response:
    """Mark a reply that differs for htmx, so a cached fragment never replaces a whole page."""
    response.vary.add("HX-Request")
    return response
