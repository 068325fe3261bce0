"""A home visit prepared for use without a network: the forms due for a family, on the tablet.

``POST /families/<id>/visit`` starts (or resumes) the drafts of the
measurements due now for the family's persons, by the same rules as the
family page's *Start* buttons (the plan, consent, the open period; see
:func:`formengine.web.cases.measure`), and answers with every one of them
prepared for finishing offline (:func:`formengine.web.offline.prepared_form`),
after the team member has confirmed with their PIN or password. The tablet
keeps the reply encrypted (``static/offline-store.js``) and lists the forms
on ``/visit`` (``static/offline-visit.js``).

``/visit`` and ``/offline/app`` are the same page without any personal data:
the device fills it from what it keeps. The service worker keeps a copy of
``/offline/app`` and shows it for ``/visit`` and a prepared form's address
when they cannot be loaded. See ``docs/offline.md``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from formengine import audit, clock
from formengine.db import db_session
from formengine.measurement import MeasurementRefused, check_can_measure, family_plan
from formengine.plan import STATUS_DUE, STATUS_OVERDUE
from formengine.registry import get_registry
from formengine.responses import start_draft
from formengine.texts import ProjectLabels
from formengine.web.access import family_or_404, ui_lang
from formengine.web.cases import instrument_title, labels, missing_consent
from formengine.web.handover import in_handover
from formengine.web.offline import pin_verifier, prepared_form, secret_confirmed

bp = Blueprint("visit", __name__)

# At most this many forms in one visit (a family's due list is far shorter).
MAX_FORMS = 20


def _who(entry: Any) -> str:
    """Who answers, by role only (no names are kept on the tablet)."""
    role = labels()["role"]
    who = role.get(entry.person.role, entry.person.role)
    if entry.about_other:
        who = _("%(who)s about %(about)s", who=who, about=role.get(entry.about.role, entry.about.role))
    return who


@bp.route("/families/<int:family_id>/visit", methods=["POST"])
@login_required
def prepare_visit(family_id: int):
    """Start the family's due forms and prepare each for finishing without a network (JSON)."""
    session = db_session()
    family = family_or_404(family_id)
    if in_handover():
        return jsonify({"error": _("This form cannot be prepared now.")}), 409
    secret = request.form.get("secret", "")
    if not secret_confirmed(secret):
        return jsonify({"error": _("Wrong PIN or password.")}), 403
    registry = get_registry()
    today = clock.today()
    started, skipped = [], []
    for view in family_plan(session, registry, family, today):
        if view.status not in (STATUS_DUE, STATUS_OVERDUE):
            continue
        for entry in view.open_entries:
            if not entry.planned or entry.person is None or entry.status not in (STATUS_DUE, STATUS_OVERDUE):
                continue
            title = instrument_title(entry.instrument_id)
            instrument = registry.get(entry.instrument_id)
            if instrument is None:
                continue
            if missing_consent(entry, today):
                skipped.append({"title": title, "who": _who(entry), "reason": _("No consent")})
                continue
            about = entry.about or entry.person
            try:
                check_can_measure(session, current_user, entry.person, view.wave, about_person=about)
            except MeasurementRefused as exc:
                skipped.append({"title": title, "who": _who(entry), "reason": str(exc)})
                continue
            response = entry.draft or start_draft(
                session, instrument, municipality_id=entry.person.municipality_id,
                entered_by=current_user.id, wording=ProjectLabels(instrument.definition).record(),
                language=ui_lang(), mode="in_person", person_id=entry.person.id, about_person_id=about.id,
                wave_id=view.wave.id)
            if entry.draft is None:
                audit.record(session, "create", "response", response.uuid,
                             {"instrument": instrument.id, "wave": view.wave.id, "person": entry.person.id,
                              "about": about.id, "mode": "in_person", "visit": True},
                             municipality_id=entry.person.municipality_id)
            started.append((response, title, _who(entry)))
    if not started:
        session.commit()
        return jsonify({"error": _("No forms are due for this family now."), "skipped": skipped}), 409
    verifier = pin_verifier(secret)  # one verifier for the whole visit
    forms = [{"response": response.uuid, "title": title, "who": who,
              "url": url_for("fill.step", response_uuid=response.uuid),
              "bundle": prepared_form(response, verifier)}
             for response, title, who in started[:MAX_FORMS]]
    audit.record(session, "view", "family", family.id, {"page": "visit", "forms": len(forms)},
                 municipality_id=family.municipality_id)
    session.commit()
    return jsonify({"family": family.id, "prepared_on": today.isoformat(), "forms": forms,
                    "skipped": skipped, "verifier": verifier})


@bp.route("/visit")
@login_required
def visit_page():
    """The prepared visit, listed by the tablet from what it keeps (the page holds no personal data)."""
    return render_template("offline/app.html", shell=False)


@bp.route("/offline/app")
def app_shell():
    """The same page, public, for the service worker to keep: it opens a prepared form without a network."""
    return render_template("offline/app.html", shell=True)
