"""Replies that behave the same for htmx requests and plain form posts."""

from __future__ import annotations

from flask import make_response, redirect, request


def redirect_to(location: str):
    """A 303 redirect; for htmx an ``HX-Redirect`` (htmx would otherwise swap the target page in)."""
    if request.headers.get("HX-Request"):
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303)


def vary_on_htmx(response):
    """Mark a reply that differs for htmx, so a cached fragment never replaces a whole page."""
    response.headers["Vary"] = "HX-Request" if "Vary" not in response.headers else (
        response.headers["Vary"] + ", HX-Request")
    return response
