"""Log in and out (Flask-Login, argon2-hashed passwords)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from formengine.db import db_session
from formengine.models import User, utcnow
from formengine.security import verify_secret

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired()])
    password = PasswordField("password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes to the start page."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("instruments.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        session_db = db_session()
        user = session_db.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and verify_secret(user.password_hash, form.password.data):
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(user)
            user.last_login_at = utcnow()
            session_db.commit()
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong username or password.")
        status = 401
    elif request.method == "POST":
        error = _("Fill in both username and password.")
        status = 400
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language for this session."""
    from flask import current_app

    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")))
