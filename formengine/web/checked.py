"""Signed values checked once: the session cookie and the CSRF form token.

A tablet sends the same session cookie and the same signed form token with
every save, and checking a signature (HMAC, base64, JSON) on every request
was a tenth of a save's work. Each application process therefore keeps, for
a bounded number of recent values, what a value's checked signature gave:

- the session cookie: the session data and the time it was signed. The same
  cookie string is accepted again without its signature being checked, but
  only while it is younger than the session's lifetime (as the signature
  check itself requires) and only under the secret key it was checked with.
  Only sessions of plain values (strings, numbers, flat lists and
  dictionaries of them) are kept, and each request gets its own copy.
- the CSRF form token: the session token it was signed for. The same signed
  token is accepted again when the session's token is still that one (the
  comparison Flask-WTF makes after checking the signature), under the same
  secret key, and only when tokens do not expire (``WTF_CSRF_TIME_LIMIT``
  None, as configured). Everything else (the methods checked, exempt views,
  the referrer check over HTTPS) is as Flask-WTF does it.

A value is kept only after it passed the full check, so nothing is accepted
that would have been refused. The form token a reply carries is the one the
request was checked with while the session's token is unchanged
(:func:`form_token`), so it is not signed again on every save; with no time
limit a token's signing time plays no part.
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Any

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect, generate_csrf, same_origin
from itsdangerous import BadSignature

# At most this many of each per process (a session cookie is a few hundred bytes); the oldest go first.
MAX_KEPT = 4096
_SCALARS = (str, int, float, bool, type(None))
_CHECKED = "formengine_csrf_checked"


class _Kept:
    """A bounded map of checked values to what their check gave, oldest dropped first."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Any, ...]] = {}
        self.lock = threading.Lock()

    def get(self, value: str) -> tuple[Any, ...] | None:
        return self.entries.get(value)

    def put(self, value: str, entry: tuple[Any, ...]) -> None:
        with self.lock:
            if value not in self.entries and len(self.entries) >= MAX_KEPT:
                self.entries.pop(next(iter(self.entries)))
            self.entries[value] = entry


def _plain_copy(data: Any) -> dict[str, Any] | None:
    """A copy of session data of plain values (None when it holds anything else, which is not kept)."""
    if not isinstance(data, dict):
        return None
    copy: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, _SCALARS):
            copy[key] = value
        elif isinstance(value, dict) and all(isinstance(v, _SCALARS) for v in value.values()):
            copy[key] = dict(value)
        elif isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value):
            copy[key] = list(value)
        else:
            return None
    return copy


class CheckedSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session; a cookie checked recently is not checked again (see the module)."""

    def __init__(self) -> None:
        self.kept = _Kept()

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key or app.config.get("SECRET_KEY_FALLBACKS"):
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        kept = self.kept.get(value)
        if kept is not None:
            secret_key, signed_at, data = kept
            age = int(time.time()) - signed_at
            if secret_key == app.secret_key and 0 <= age <= max_age:
                copy = _plain_copy(data)
                if copy is not None:
                    return self.session_class(copy)
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        try:
            data, signed = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        copy = _plain_copy(data)
        if copy is not None:
            self.kept.put(value, (app.secret_key, int(signed.timestamp()), copy))
        return self.session_class(data)


class CheckedCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF protection; a form token checked recently is not checked again (see the module)."""

    def __init__(self, app: Flask | None = None) -> None:
        self.kept = _Kept()
        super().__init__(app)

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        # Templates get the token the request was checked with (Flask-WTF's own registers generate_csrf).
        app.jinja_env.globals["csrf_token"] = form_token
        app.context_processor(lambda: {"csrf_token": form_token})

    def protect(self, apply_exemptions: bool = False) -> None:
        config = current_app.config
        field = config["WTF_CSRF_FIELD_NAME"]
        secret_key = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        reusable = request.method in config["WTF_CSRF_METHODS"] and config["WTF_CSRF_TIME_LIMIT"] is None
        token = self._get_csrf_token() if reusable else None
        raw = session.get(field)
        if token and isinstance(raw, str):
            kept = self.kept.get(token)
            if kept is not None and kept[0] == secret_key and hmac.compare_digest(kept[1], raw):
                if request.is_secure and config["WTF_CSRF_SSL_STRICT"]:
                    # Flask-WTF's referrer check over HTTPS, as it makes it.
                    if not request.referrer:
                        self._error_response("The referrer header is missing.")
                    if not same_origin(request.referrer, f"https://{request.host}/"):
                        self._error_response("The referrer does not match the host.")
                g.csrf_valid = True
                setattr(g, _CHECKED, (token, raw))
                return
        super().protect(apply_exemptions)
        if token and isinstance(raw, str) and g.get("csrf_valid"):
            self.kept.put(token, (secret_key, raw))
            setattr(g, _CHECKED, (token, raw))


def form_token() -> str:
    """The signed CSRF token for a form in this reply: the one the request was checked with, while current."""
    checked = g.get(_CHECKED)
    if checked is not None:
        field = current_app.config["WTF_CSRF_FIELD_NAME"]
        if session.get(field) == checked[1]:
            return str(checked[0])
    return str(generate_csrf())
