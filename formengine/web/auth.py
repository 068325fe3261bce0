"""Log in and out (Flask-Login, argon2-hashed passwords), with throttling of failed logins.

Throttling counts failed attempts in the database (the append-only audit
trail), not in process memory, so it holds across several gunicorn workers
and restarts: after ``LOGIN_MAX_FAILURES`` failures for one username from one
address within ``LOGIN_FAILURE_WINDOW_MINUTES``, ``LOGIN_MAX_FAILURES_PER_USER``
failures for one username from any addresses, or ``LOGIN_MAX_FAILURES_PER_IP``
failures from one address for any usernames, further attempts are refused
with 429 and a clear message, even with the right password, until the window
has passed. Every login, failure, refusal and logout is in the audit trail.

A login takes as long for an unknown username as for a known one (a dummy
hash is verified), and every refusal says the same, so the form does not tell
which usernames exist. Logout ends every session of the user on every device
(see :mod:`formengine.web.sessions`).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from formengine import audit
from formengine.db import db_session
from formengine.models import AuditEvent, User, utcnow
from formengine.security import hash_secret, verify_login, verify_secret
from formengine.web import params, sessions

THROTTLE_DEFAULTS = {
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_USER": 10,
    "LOGIN_MAX_FAILURES_PER_IP": 20,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
}

bp = Blueprint("auth", __name__)


class LoginForm(params.CheckedForm):
    # as long as the stored column; a longer name cannot be a user
    username = StringField("username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes to the start page."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("cases.due")


def _setting(name: str) -> int:
    return int(current_app.config.get(name, THROTTLE_DEFAULTS[name]))


def _client_address() -> str:
    # Behind a proxy, configure werkzeug's ProxyFix so remote_addr is the client's address.
    return (request.remote_addr or "unknown")[:45]


def _failures(session_db, username: str, address: str) -> tuple[int, int, int]:
    """Failed logins within the window: this username from this address, this username, this address."""
    since = utcnow() - timedelta(minutes=_setting("LOGIN_FAILURE_WINDOW_MINUTES"))
    ip = AuditEvent.detail["ip"].as_string()
    base = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "login_failed", AuditEvent.entity == "login", AuditEvent.at >= since)
    same_user = base.where(AuditEvent.entity_id == username[:64])
    per_user_ip = session_db.scalar(same_user.where(ip == address)) or 0
    per_user = session_db.scalar(same_user) or 0
    per_ip = session_db.scalar(base.where(ip == address)) or 0
    return per_user_ip, per_user, per_ip


def _throttled(session_db, username: str, address: str) -> bool:
    per_user_ip, per_user, per_ip = _failures(session_db, username, address)
    return (per_user_ip >= _setting("LOGIN_MAX_FAILURES")
            or per_user >= _setting("LOGIN_MAX_FAILURES_PER_USER")
            or per_ip >= _setting("LOGIN_MAX_FAILURES_PER_IP"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        session_db = db_session()
        username = form.username.data.strip()
        address = _client_address()
        user = session_db.scalar(select(User).where(User.username == username))
        municipality_id = user.municipality_id if user is not None else None
        if _throttled(session_db, username, address):
            audit.record(session_db, "login_throttled", "login", username, {"ip": address},
                         user=user, username=username, municipality_id=municipality_id)
            session_db.commit()
            minutes = _setting("LOGIN_FAILURE_WINDOW_MINUTES")
            error = _("Too many failed logins. Wait %(minutes)d minutes and try again, or ask your "
                      "administrator.", minutes=minutes)
            return render_template("auth/login.html", form=form, error=error), 429
        # Always one full hash verification, so the answer time does not tell whether the user exists.
        password_ok = verify_login(user.password_hash if user is not None else None, form.password.data)
        if user is not None and user.active and password_ok:
            sessions.clear()
            login_user(user)
            sessions.start(user)
            user.last_login_at = utcnow()
            audit.record(session_db, "login", "user", user.id, {"ip": address}, user=user)
            session_db.commit()
            return redirect(_safe_next(request.args.get("next")))
        audit.record(session_db, "login_failed", "login", username, {"ip": address},
                     user=None, username=username, municipality_id=municipality_id)
        session_db.commit()
        error = _("Wrong username or password.")
        status = 401
    elif request.method == "POST":
        error = _("Fill in both username and password.")
        status = 400
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    session_db = db_session()
    user = current_user._get_current_object()
    # Ends this session and every copy of it (and the user's sessions on other devices).
    sessions.end_all(user)
    audit.record(session_db, "logout", "user", user.id)
    session_db.commit()
    logout_user()
    sessions.clear()
    return redirect(url_for("auth.login"))


class PasswordForm(params.CheckedForm):
    current = PasswordField("current", validators=[DataRequired()])
    new = PasswordField("new", validators=[DataRequired(), Length(min=8, max=200)])
    repeat = PasswordField("repeat", validators=[DataRequired()])


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; every other session of the user ends, this one stays signed in."""
    form = PasswordForm()
    error = None
    status = 200
    if request.method == "POST":
        user = current_user._get_current_object()
        if not form.validate_on_submit():
            error, status = _("The new password must be at least 8 characters."), 400
        elif not verify_secret(user.password_hash, form.current.data):
            error, status = _("Your password is not correct."), 400
        elif form.new.data != form.repeat.data:
            error, status = _("The two new passwords are not the same."), 400
        else:
            session_db = db_session()
            user.password_hash = hash_secret(form.new.data)
            sessions.end_all(user)
            audit.record(session_db, "change", "user", user.id, {"field": "password"})
            session_db.commit()
            sessions.start(user)
            return render_template("auth/password.html", form=PasswordForm(formdata=None), saved=True)
    return render_template("auth/password.html", form=form, error=error), status


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language for this session."""
    from flask import current_app

    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")))
