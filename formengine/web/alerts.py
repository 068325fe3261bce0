"""Open alerts on the team member's pages, and acknowledging one with a short note."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from formengine.alerts import AlertError, acknowledge, open_alerts
from formengine.db import db_session
from formengine.models import Alert
from formengine.web.access import scope

bp = Blueprint("alerts", __name__)


def alerts_for(municipality_id: int | None = None, **filters: Any) -> list[Alert]:
    """Open alerts for a template: the user's municipality (or the one given), optionally narrowed.

    The pages that include them have already checked access to the family,
    person or response; a user only ever sees their own municipality's alerts.
    """
    if not current_user.is_authenticated:
        return []
    if not current_user.is_sysadmin:
        municipality_id = current_user.municipality_id
    if municipality_id is None:
        return []
    return open_alerts(db_session(), municipality_id, **filters)


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/"):
        return target
    return url_for("cases.due")


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge_alert(alert_id: int):
    """Acknowledge an alert with a short note (audited); back to the page it was shown on."""
    session = db_session()
    alert = session.scalar(scope(select(Alert).where(Alert.id == alert_id), Alert))
    if alert is None:
        abort(404)
    try:
        acknowledge(session, alert, request.form.get("note", ""), user=current_user)
    except AlertError as exc:
        session.rollback()
        flash(_("The alert was not acknowledged: %(reason)s", reason=str(exc)))
    else:
        session.commit()
        flash(_("The alert is acknowledged."))
    return redirect(_safe_next(request.form.get("next")), 303)
