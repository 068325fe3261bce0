"""The instrument list, a whole-form page for any instrument, and a response's result."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from formengine import audit, drafts
from formengine.alerts import notify
from formengine.db import db_session
from formengine.definition_versions import definition_for
from formengine.forms import build_form_class, form_answers
from formengine.instruments import AnswerError, AnswerRefused
from formengine.practice import practice_instruments
from formengine.registry import current_flask_app, get_registry
from formengine.responses import submit_new_response
from formengine.scoring_context import scoring_context
from formengine.web.access import response_or_404, ui_lang
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
    return render_template("instruments/index.html", instruments=registry.sorted_instruments(),
                           practice=allowed)


@bp.route("/instruments/<instrument_id>", methods=["GET", "POST"])
@login_required
def fill(instrument_id: str):
    instrument = get_registry().get(instrument_id)
    if instrument is None:
        abort(404)
    lang = ui_lang()
    texts = texts_for(current_flask_app(), instrument.definition, lang)
    form = build_form_class(instrument.definition, texts, lang)()
    if form.is_submitted():
        if not form.validate():  # the CSRF token; the answers are read by the codec below
            return render_error(400, "; ".join(e for errs in form.errors.values() for e in errs))
        try:
            answers = form_answers(form, instrument.definition)
        except AnswerRefused as exc:
            labels = {item["id"]: texts.item(item, lang) for item in instrument.definition.items}
            problems = [p.message(lang, labels.get(p.item.split(".")[0])) for p in exc.refusals]
            return render_error(400, _("The answers were not saved: %(problems)s",
                                       problems=" | ".join(problems)))
        # As at a tablet submit: answers to questions a display condition hides are not stored or scored.
        hidden = drafts.hidden_answered(instrument.definition, answers)
        answers = {k: v for k, v in answers.items() if k not in hidden}
        session = db_session()
        try:
            response = submit_new_response(
                session, instrument, answers,
                municipality_id=current_user.municipality_id,
                entered_by=current_user.id,
                wording=texts.record(),
                language=lang,
                context=scoring_context(current_flask_app(), instrument, session=session,
                                        municipality_id=current_user.municipality_id),
            )
        except AnswerError as exc:
            session.rollback()
            return render_error(400, _("The answers were not saved: %(problems)s", problems=str(exc)))
        if hidden:
            audit.record(session, "clear", "response", response.uuid,
                         {"items": hidden, "reason": "hidden_by_condition"})
        audit.record(session, "submit", "response", response.uuid, {"instrument": instrument.id})
        session.commit()
        if notify(session, get_registry(), response):
            session.commit()
        return redirect(url_for("instruments.result", response_uuid=response.uuid))
    return render_template("instruments/fill.html", instrument=instrument, form=form,
                           texts=texts, lang=lang)


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
