"""Flask blueprints and the extensions the web interface needs."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError

from formengine.db import db_session
from formengine.models import User
from formengine.web.checked import CheckedCSRFProtect, CheckedSessionInterface
from formengine.web.hx import htmx

csrf = CheckedCSRFProtect()

# Sent with every reply (unless the view set its own).
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
)
login_manager = LoginManager()
babel = Babel()


def init_web(app: Flask) -> None:
    from formengine.web import params
    from formengine.web.access import prefetch_response, select_locale, ui_lang

    # Flask's signed session cookie and Flask-WTF's CSRF check; a value checked recently is not checked
    # again (web/checked.py).
    app.session_interface = CheckedSessionInterface()
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load_user(user_id: str) -> User | None:
        from formengine.web import sessions

        number = params.parse_id(user_id)
        if number is None:
            return None
        response_uuid = (request.view_args or {}).get("response_uuid")
        if isinstance(response_uuid, str) and params.is_uuid(response_uuid):
            # A request about one response (the stepper's): that response is read in the same query,
            # scoped to the user's municipality, and response_or_404 takes it from there.
            user, response = sessions.load_user_and_response(db_session(), number, response_uuid)
            if user is not None:
                prefetch_response(response_uuid, user.municipality_id, response)
        else:
            user = sessions.load_user(db_session(), number)
        if user is None or not user.active or not sessions.is_valid(user):
            return None
        return user

    # Bounded ids and the other URL converters, before any blueprint adds a route.
    params.register_converters(app)

    from formengine.web import auth, errors, fill, instruments

    app.register_blueprint(auth.bp)
    app.register_blueprint(instruments.bp)
    app.register_blueprint(fill.bp)
    from formengine.web import offline

    app.register_blueprint(offline.bp)
    from formengine.web import visit

    app.register_blueprint(visit.bp)
    from formengine.web import admin, cases

    app.register_blueprint(cases.bp)
    app.register_blueprint(admin.bp)
    from formengine.web import exports, reports

    app.register_blueprint(reports.bp)
    app.register_blueprint(exports.bp)
    from formengine.web import alerts

    app.register_blueprint(alerts.bp)
    from formengine.web import rescoring

    app.register_blueprint(rescoring.bp)
    errors.register(app)
    from formengine import clock

    # Stored times are UTC; pages show them in the installation's time zone.
    app.add_template_filter(clock.local_time, "local_time")
    app.add_template_filter(clock.local_date, "local_date")

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return errors.render_error(400, exc.description)

    @app.before_request
    def _session_is_permanent() -> None:
        # The cookie expires after SESSION_TIMEOUT_MINUTES of inactivity; web/sessions.py
        # enforces the same limit (and the absolute one) on the server. Set once: setting it
        # again would mark the session changed and re-sign the cookie on every request.
        if not session.permanent:
            session.permanent = True

    @app.after_request
    def _security_headers(response):
        # Each header unless the view set its own (one pass over the reply's headers, not one per header).
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                headers.add(name, value)
        if "cache-control" not in present and request.endpoint and request.endpoint != "static":
            headers.add("Cache-Control", "no-store")
        return response

    from formengine.web.flag_texts import explain_flag

    app.jinja_env.globals["explain_flag"] = explain_flag
    app.jinja_env.globals["open_alerts"] = alerts.alerts_for
    from formengine.registry import get_registry

    app.jinja_env.globals["get_instrument"] = lambda instrument_id: get_registry(app).get(instrument_id)

    @app.context_processor
    def _template_globals():
        return {"current_lang": ui_lang(), "languages": app.config["LANGUAGES"]}
