"""The instrument list, a whole-form page for any instrument, and a response's result."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from formengine import audit
from formengine.alerts import notify
from formengine.db import db_session
from formengine.definition_versions import definition_for
from formengine.forms import build_form_class, form_answers, unrendered_items
from formengine.instruments import AnswerError, AnswerRefused, Instrument
from formengine.practice import practice_instruments
from formengine.registry import current_flask_app, get_registry
from formengine.responses import submit_new_response
from formengine.scoring_context import scoring_context
from formengine.submission import check_submission
from formengine.texts import TextSource
from formengine.web.access import require_practice_allowed, response_or_404, ui_lang
from formengine.web.errors import render_error
from formengine.wording import texts_for

bp = Blueprint("instruments", __name__)


@bp.route("/")
@login_required
def home():
    """The app's address: a team member starts from what is due, never from the practice forms."""
    return redirect(url_for("cases.due"))


@bp.route("/instruments")
@login_required
def index():
    """Every installed instrument, to practise with (practice fills are not linked to a person)."""
    registry = get_registry()
    allowed = practice_instruments(db_session(), registry, current_user.municipality_id)
    # practice fills only for what the municipality has enabled
    # the whole-form page only where every question fits on it (a repeatable group needs the stepper)
    instruments = registry.sorted_instruments()
    whole_form = {i.id for i in instruments if i.id in allowed and not unrendered_items(i.definition)}
    return render_template("instruments/index.html", instruments=instruments,
                           practice=allowed, whole_form=whole_form)


@bp.route("/instruments/<instrument_id>", methods=["GET", "POST"])
@login_required
def fill(instrument_id: str):
    """Every question of a form on one page: a practice submission (no person, no round).

    Only for instruments the municipality has enabled (403 otherwise). A submit
    follows the stepper's rules (:mod:`formengine.submission`): required
    questions answered or declined, answers to hidden questions removed and audited.
    """
    instrument = get_registry().get(instrument_id)
    if instrument is None:
        abort(404)
    require_practice_allowed(instrument.id)
    lang = ui_lang()
    definition = instrument.definition
    texts = texts_for(current_flask_app(), definition, lang)
    form = build_form_class(definition, texts, lang)()
    if not form.is_submitted():
        return _whole_form(instrument, form, texts, lang)
    if not form.validate():  # the CSRF token; the answers are read by the codec below
        return render_error(400, "; ".join(e for errs in form.errors.values() for e in errs))
    declined = request.form.getlist(DECLINE_FIELD)
    labels = {item["id"]: texts.item(item, lang) for item in definition.items}
    try:
        answers = form_answers(form, definition, ignore=(DECLINE_FIELD,))
        # A tick at "Don't want to answer" wins over a choice made before it, as the stepper's button does.
        checked = check_submission(definition, {k: v for k, v in answers.items() if k not in declined},
                                   declined)
    except AnswerRefused as exc:
        problems = [p.message(lang, labels.get(p.item.split(".")[0])) for p in exc.refusals]
        return _whole_form(instrument, form, texts, lang, declined=declined, status=400,
                           problems=problems)
    if checked.missing:
        return _whole_form(instrument, form, texts, lang, declined=declined, status=422,
                           missing=checked.missing)
    session = db_session()
    try:
        response = submit_new_response(
            session, instrument, checked.answers,
            municipality_id=current_user.municipality_id,
            entered_by=current_user.id,
            wording=texts.record(),
            language=lang,
            declined=checked.declined,
            context=scoring_context(current_flask_app(), instrument, session=session,
                                    municipality_id=current_user.municipality_id),
        )
    except AnswerError as exc:
        session.rollback()
        return _whole_form(instrument, form, texts, lang, declined=declined, status=400,
                           problems=[str(exc)])
    if checked.cleared:
        # As at a tablet submit: answers to questions a display condition hides are removed, never scored.
        audit.record(session, "clear", "response", response.uuid,
                     {"items": checked.cleared, "reason": "hidden_by_condition"})
        flash(_("These answers were not saved, because other answers mean the questions do not apply: "
                "%(questions)s", questions="; ".join(labels[i] for i in checked.cleared)), "cleared")
    audit.record(session, "submit", "response", response.uuid,
                 {"instrument": instrument.id, "practice": True, "cleared": len(checked.cleared),
                  "declined": len(checked.declined)})
    session.commit()
    if notify(session, get_registry(), response):
        session.commit()
    return redirect(url_for("instruments.result", response_uuid=response.uuid))


DECLINE_FIELD = "decline"


def _whole_form(instrument: Instrument, form: Any, texts: TextSource, lang: str, *,
                declined: list[str] | None = None, status: int = 200, problems: list[str] | None = None,
                missing: list[str] | None = None):
    """The whole-form page; after a refused submit with the reasons and the missing questions linked."""
    html = render_template("instruments/fill.html", instrument=instrument, form=form, texts=texts,
                           lang=lang, declined=declined or [], problems=problems or [],
                           missing=missing or [], step_only=unrendered_items(instrument.definition),
                           decline_field=DECLINE_FIELD)
    return html, status


@bp.route("/responses/<response_uuid>")
@login_required
def result(response_uuid: str):
    response = response_or_404(response_uuid)
    instrument = get_registry().get(response.instrument_id)
    lang = ui_lang()
    custom = None
    view_failures: list[str] = []
    if instrument is not None and response.status == "submitted":
        from markupsafe import Markup

        from formengine.web.fill import earlier_responses

        # A plugin (e.g. a worksheet) may show its own view instead of the score table;
        # one that raises is named on the page, and the standard table is shown.
        _plugin, html, failures = get_registry().first_guarded(
            "formengine_result_view",
            response=response, instrument=instrument, history=earlier_responses(response), lang=lang)
        custom = Markup(html) if html is not None else None
        view_failures = sorted({f.plugin for f in failures})
    # labelled with the definition version the response was answered with
    shown = (definition_for(db_session(), instrument, response.instrument_version)
             if instrument is not None else None)
    session = db_session()
    audit.record(session, "view", "response", response.uuid, {"page": "result"},
                 municipality_id=response.municipality_id)
    session.commit()
    return render_template("instruments/result.html", response=response, instrument=instrument,
                           response_definition=shown, score=response.current_score, lang=lang,
                           custom=custom, view_failures=view_failures)
