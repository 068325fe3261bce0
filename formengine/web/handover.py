"""Hand-over mode: the tablet is given to the respondent and locked to one form.

Until the team member unlocks it with their PIN or password, only that
response's own pages are reachable; five wrong guesses end the session (the
answers so far are saved). The team member's PIN is set here too. The views
are registered on the stepper's blueprint (``fill.handover``, ``fill.unlock``,
``fill.done``, ``fill.pin``) by :func:`register`.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from formengine import audit, drafts
from formengine.db import db_session
from formengine.models import Response
from formengine.security import hash_secret, verify_secret
from formengine.web import sessions
from formengine.web.access import response_or_404, ui_lang
from formengine.web.hx import redirect_to

HANDOVER_KEY = "handover"
UNLOCK_FAILURES_KEY = "unlock_failures"
MAX_UNLOCK_FAILURES = 5
# What a respondent holding the tablet may reach; everything else leads back to their form.
HANDOVER_ENDPOINTS = {"fill.step", "fill.save", "fill.review", "fill.submit", "fill.done",
                      "fill.unlock", "fill.language", "offline.key", "offline.offline_page",
                      "offline.service_worker", "visit.app_shell", "static"}


def in_handover() -> bool:
    """Whether the tablet is currently handed over to a respondent."""
    return bool(session.get(HANDOVER_KEY))


def after_submit_url(response: Response) -> str:
    """Where a submitted response leads: thanks (no scores) while handed over, else the result."""
    if in_handover():
        return url_for("fill.done", response_uuid=response.uuid)
    return url_for("instruments.result", response_uuid=response.uuid)


def _handover_guard():
    """While the tablet is handed over, only the respondent's own form is reachable."""
    locked = session.get(HANDOVER_KEY)
    if not locked:
        return None
    if not current_user.is_authenticated:
        session.pop(HANDOVER_KEY, None)
        return None
    view_args = request.view_args or {}
    if request.endpoint in HANDOVER_ENDPOINTS and view_args.get("response_uuid", locked) == locked:
        return None
    return redirect_to(url_for("fill.step", response_uuid=locked))


def _handover_context() -> dict[str, Any]:
    # Pages shown while the tablet is handed over hide every menu and name.
    return {"handover_active": in_handover()}


@login_required
def handover(response_uuid: str):
    """Hand the tablet to the respondent: only this form is reachable until the team member unlocks."""
    response = response_or_404(response_uuid)
    if response.status != "draft":
        return redirect(after_submit_url(response), 303)
    session[HANDOVER_KEY] = response.uuid
    session.pop(UNLOCK_FAILURES_KEY, None)
    return redirect(url_for("fill.step", response_uuid=response.uuid), 303)


@login_required
def done(response_uuid: str):
    """After the respondent submits: thanks, and a request to hand the tablet back (no scores)."""
    response = response_or_404(response_uuid)
    if not in_handover():
        return redirect(url_for("instruments.result", response_uuid=response.uuid), 303)
    if response.status != "submitted":
        # Nothing was sent yet: thanks would tell the respondent their answers are in when they are not.
        return redirect(url_for("fill.step", response_uuid=response.uuid), 303)
    lang = response.language if response.language in current_app.config["LANGUAGES"] else "da"
    with force_locale(lang):
        html = render_template("fill/done.html", response=response, lang=lang)
    return html


@login_required
def unlock(response_uuid: str):
    """The team member takes the tablet back with their PIN or password.

    Every POST answers with a redirect (post/redirect/get), so the back button never
    offers to send a PIN again; a wrong guess is shown on the page it leads back to.
    """
    response = response_or_404(response_uuid)
    if not in_handover():
        return redirect(url_for("fill.step", response_uuid=response.uuid), 303)
    if request.method == "POST":
        secret = request.form.get("secret", "")
        if secret and (verify_secret(current_user.pin_hash, secret)
                       or verify_secret(current_user.password_hash, secret)):
            session.pop(HANDOVER_KEY, None)
            session.pop(UNLOCK_FAILURES_KEY, None)
            if response.status == "submitted":
                return redirect(url_for("instruments.result", response_uuid=response.uuid), 303)
            _back_to_team_language(response)
            return redirect(url_for("fill.step", response_uuid=response.uuid), 303)
        failures = int(session.get(UNLOCK_FAILURES_KEY, 0)) + 1
        session[UNLOCK_FAILURES_KEY] = failures
        if failures >= MAX_UNLOCK_FAILURES:
            # Too many guesses: end the session; the answers so far are saved.
            dbs = db_session()
            sessions.end_all(current_user._get_current_object())
            audit.record(dbs, "login_failed", "user", current_user.id, {"reason": "unlock"})
            dbs.commit()
            logout_user()
            sessions.clear()
            flash(_("The tablet was locked after too many wrong PINs. The answers given so far are "
                    "kept: log in to continue."), "locked")
            return redirect(url_for("auth.login"), 303)
        flash(_("Wrong PIN or password. %(left)s tries left.", left=MAX_UNLOCK_FAILURES - failures), "unlock")
        return redirect(url_for("fill.unlock", response_uuid=response.uuid), 303)
    errors = get_flashed_messages(category_filter=["unlock"])
    error = errors[-1] if errors else None
    return render_template("fill/unlock.html", response=response, error=error), 401 if error else 200


def _back_to_team_language(response: Response) -> None:
    """After unlocking, the rest of the form is the team member's again: shown in their language."""
    lang = ui_lang()
    if response.status == "draft" and response.language != lang and lang in current_app.config["LANGUAGES"]:
        dbs = db_session()
        drafts.set_language(dbs, response, lang, response.version)
        dbs.commit()


@login_required
def pin():
    """Set or change the PIN that takes the tablet back in hand-over mode (post/redirect/get)."""
    if request.method == "POST":
        error = None
        password = request.form.get("password", "")
        new_pin = request.form.get("pin", "").strip()
        repeat = request.form.get("pin_repeat", "").strip()
        if not verify_secret(current_user.password_hash, password):
            error = _("Your password is not correct.")
        elif not (new_pin.isascii() and new_pin.isdigit() and 4 <= len(new_pin) <= 8):
            error = _("The PIN must be 4 to 8 digits.")
        elif new_pin != repeat:
            error = _("The two PINs are not the same.")
        else:
            dbs = db_session()
            current_user.pin_hash = hash_secret(new_pin)
            audit.record(dbs, "change", "user", current_user.id, {"field": "pin"})
            dbs.commit()
        flash(error or _("Your new PIN is saved."), "pin-error" if error else "pin-saved")
        return redirect(url_for("fill.pin"), 303)
    errors = get_flashed_messages(category_filter=["pin-error"])
    saved = get_flashed_messages(category_filter=["pin-saved"])
    error = errors[-1] if errors else None
    return render_template("fill/pin.html", error=error, saved=bool(saved)), 400 if error else 200


def register(bp: Blueprint) -> None:
    """Add the hand-over guard and views to the stepper's blueprint (endpoint names ``fill.*``)."""
    bp.before_app_request(_handover_guard)
    bp.app_context_processor(_handover_context)
    bp.add_url_rule("/fill/<response_uuid>/handover", "handover", handover, methods=["POST"])
    bp.add_url_rule("/fill/<response_uuid>/done", "done", done)
    bp.add_url_rule("/fill/<response_uuid>/unlock", "unlock", unlock, methods=["GET", "POST"])
    bp.add_url_rule("/account/pin", "pin", pin, methods=["GET", "POST"])
