"""The tablet stepper: one question (or short section) per screen, every answer saved at once.

Works as plain form posts without JavaScript; htmx swaps the next step in place
and ``static/fill.js`` retries failed saves. Hand-over mode (the tablet locked
to one response) lives in :mod:`formengine.web.handover`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    abort,
    after_this_request,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from formengine import audit, drafts, stepper
from formengine.alerts import notify as notify_alerts
from formengine.db import db_session
from formengine.instruments import AnswerError, AnswerRefused, Definition, Problem, code_key, codec_for
from formengine.measurement import MeasurementRefused, check_can_measure
from formengine.models import Person, Response, Wave
from formengine.registry import get_registry
from formengine.responses import start_draft
from formengine.scoring_context import scoring_context
from formengine.web import handover, step_cache
from formengine.web.access import require_practice_allowed, response_or_404, scope, ui_lang
from formengine.web.handover import after_submit_url, in_handover
from formengine.web.hx import htmx, redirect_to, vary_on_htmx

bp = Blueprint("fill", __name__)

handover.register(bp)


# -- wording ---------------------------------------------------------------

def texts_for(definition: Definition, lang: str):
    """The wording source for a form: an installed pack, else the project's own labels."""
    from formengine.wording import texts_for as pick

    return pick(current_app, definition, lang)



@bp.before_request
def _htmx_needs_login():
    # An htmx request after the session timed out reloads the page (to the login form)
    # instead of swapping the login page into the question.
    if htmx and not current_user.is_authenticated:
        response = make_response(_("Your session has ended. Log in again."), 401)
        response.headers["HX-Refresh"] = "true"
        return response
    return None


# -- starting ----------------------------------------------------------------

@bp.route("/fill/start/<instrument_id>", methods=["POST"])
@login_required
def start(instrument_id: str):
    """Start a practice draft (no person) and go to its first question."""
    instrument = get_registry().get(instrument_id)
    if instrument is None:
        abort(404)
    lang = ui_lang()
    dbs = db_session()
    require_practice_allowed(instrument.id)
    response = start_draft(
        dbs, instrument,
        municipality_id=current_user.municipality_id,
        entered_by=current_user.id,
        wording=texts_for(instrument.definition, lang).record(),
        language=lang,
    )
    audit.record(dbs, "create", "response", response.uuid, {"instrument": instrument.id, "practice": True})
    dbs.commit()
    return redirect(url_for("fill.step", response_uuid=response.uuid), 303)


# -- the stepper -------------------------------------------------------------

class StepView:
    """Everything one screen of the stepper needs: its page, items, progress and texts."""

    def __init__(self, response: Response, definition: Definition, page_id: str | None):
        self.response = response
        self.definition = definition
        self.lang = response.language if response.language in current_app.config["LANGUAGES"] else "da"
        self.texts = texts_for(definition, self.lang)
        self.pages = stepper.visible_pages(definition, response.answers or {})
        ids = [p["id"] for p in self.pages]
        if page_id is None or page_id not in ids:
            page_id = None
        self.page = next((p for p in self.pages if p["id"] == page_id), None)
        self.index = ids.index(page_id) if page_id else None

    @property
    def item_ids(self) -> list[str]:
        """The page's item ids; none on the review screen, which has no page."""
        return self.page["items"] if self.page is not None else []

    @property
    def items(self) -> list[dict[str, Any]]:
        answers = self.response.answers or {}
        return [self.definition.items_by_id[i] for i in self.item_ids
                if self.definition.is_shown(self.definition.items_by_id[i], answers)]

    @property
    def page_items(self) -> list[dict[str, Any]]:
        """Every item of the page, shown or not (hidden ones become placeholders)."""
        return [self.definition.items_by_id[i] for i in self.item_ids]

    @property
    def total(self) -> int:
        return len(self.pages)

    @property
    def one_item_per_step(self) -> bool:
        return all(len(p["items"]) == 1 for p in self.definition.pages)

    def page_of(self, item_id: str) -> str | None:
        return next((p["id"] for p in self.pages if item_id in p["items"]), None)


def _instrument_for(response: Response):
    instrument = get_registry().get(response.instrument_id)
    if instrument is None:
        abort(404)
    return instrument


def _resume_page(view: StepView) -> str | None:
    return stepper.resume_step(view.definition, view.response.answers or {}, view.response.declined or [])


def _widget_html(item: Mapping[str, Any], definition: Definition, value: Any, lang: str,
                 texts: Any) -> Markup | None:
    if "widget" not in item:
        return None
    # A widget that raises is logged with its plugin's name; the standard control is shown instead.
    _plugin, html, _failures = get_registry().first_guarded(
        "formengine_render_widget", item=item, definition=definition, value=value, lang=lang, texts=texts)
    return Markup(html) if html is not None else None


def _render_step_fragment(view: StepView, *, values: Mapping[str, Any] | None = None,
                          errors: list[str] | None = None, conflict: bool = False,
                          focus: str | None = None) -> str:
    """The stepper section alone, in the respondent's language (also what htmx swaps in)."""
    shown_values = dict(view.response.answers or {})
    if values:
        shown_values.update(values)
    handover_on = in_handover()
    timeout_seconds = int(current_app.config["SESSION_TIMEOUT_MINUTES"]) * 60

    def render(**stand_ins: Any) -> str:
        context = {"response": view.response, **stand_ins}
        with force_locale(view.lang):
            return render_template(
                "fill/_step.html", view=view, definition=view.definition,
                texts=view.texts, lang=view.lang, values=shown_values, errors=errors or [],
                conflict=conflict, widget=_widget_html, code_key=code_key, handover=handover_on, focus=focus,
                timeout_seconds=timeout_seconds, **context,
            )

    if not errors and not conflict and focus is None:
        # The usual case, the next question after a save: from the kept copy of this step.
        kept = step_cache.render(view, shown_values, handover_on, timeout_seconds, render)
        if kept is not None:
            return kept
    return render()


def _render_step_page(view: StepView, status: int = 200, **fragment_args: Any):
    fragment = _render_step_fragment(view, **fragment_args)
    if htmx:
        response = make_response(fragment, status)
        response.headers["HX-Push-Url"] = url_for("fill.step", response_uuid=view.response.uuid,
                                                  page=view.page["id"] if view.page else None)
    else:
        response = make_response(render_template(
            "fill/step.html", view=view, response=view.response, definition=view.definition,
            fragment=Markup(fragment), handover=in_handover(), lang=view.lang), status)
    return vary_on_htmx(response)


@bp.route("/fill/<response_uuid>")
@login_required
def step(response_uuid: str):
    """One step of the stepper; without ``?page=`` it resumes at the first unanswered question."""
    response = response_or_404(response_uuid)
    if response.status == "submitted":
        return redirect_to(after_submit_url(response))
    instrument = _instrument_for(response)
    view = StepView(response, instrument.definition, request.args.get("page"))
    if view.page is None:
        resume = _resume_page(view)
        if resume is None:
            return redirect_to(url_for("fill.review", response_uuid=response.uuid))
        view = StepView(response, instrument.definition, resume)
    _record_view(response, "step")
    return _render_step_page(view)


def _record_view(response: Response, page: str) -> None:
    """A page showing a response's answers is a read of personal data: audited (in bursts, as saves are)."""
    dbs = db_session()
    if audit.record_burst(dbs, "view", "response", response.uuid, {"page": page},
                          municipality_id=response.municipality_id):
        dbs.commit()


# -- refusals -------------------------------------------------------------------

# Fields of the step form that are not answers.
STEP_CONTROLS = ("csrf_token", "version", "page", "go", "decline")


def _problem_label(view: StepView, path: str) -> str | None:
    """The question a refusal is about, in the respondent's wording (``goals.0.goal`` -> "Goals 1: Goal")."""
    parts = path.split(".")
    item = view.definition.items_by_id.get(parts[0])
    if item is None:
        return None
    label = view.texts.item(item, view.lang)
    if len(parts) == 3 and parts[1].isdecimal():
        sub = next((s for s in item.get("items", []) if s["id"] == parts[2]), None)
        if sub is not None:
            label = f"{label} {int(parts[1]) + 1}: {view.texts.item(sub, view.lang)}"
    return label


def _refusal(view: StepView, refused: AnswerRefused, status: int = 422,
             values: Mapping[str, Any] | None = None):
    """A refused save, in the respondent's language: the step with the reasons, or (htmx) the reasons alone.

    fill.js shows a short plain-text reply as the save status and keeps what is on screen.
    """
    messages = [p.message(view.lang, _problem_label(view, p.item)) for p in refused.refusals]
    if htmx:
        reply = make_response("; ".join(messages)[:190], status)
        reply.mimetype = "text/plain"
        return vary_on_htmx(reply)
    return _render_step_page(view, status, errors=messages, values=values)


# The tablet's answer queue (static/fill.js) sends each save with a key of its own (idempotency),
# and reads the draft's version after the save from the reply, to base its next queued save on it.
SAVE_KEY_HEADER = "Idempotency-Key"
SAVE_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
VERSION_HEADER = "X-Draft-Version"


@bp.route("/fill/<response_uuid>/save", methods=["POST"])
@login_required
def save(response_uuid: str):
    """Save the answers of one step, then go where the pressed button says (next, back, stay, review).

    With an ``Idempotency-Key`` header the save is applied at most once; every
    reply says the draft's version in ``X-Draft-Version``.
    """
    response = response_or_404(response_uuid)

    @after_this_request
    def _say_version(reply):
        reply.headers[VERSION_HEADER] = str(response.version)
        return reply

    if response.status == "submitted":
        return redirect_to(after_submit_url(response))
    instrument = _instrument_for(response)
    definition = instrument.definition
    view = StepView(response, definition, request.form.get("page"))
    if view.page is None:
        message = _("This question is not part of the form (any more). Reload the page.")
        return vary_on_htmx(make_response(message, 400))
    try:
        expected = int(request.form.get("version", ""))
    except ValueError:
        return vary_on_htmx(make_response(_("The form is missing its version. Reload the page."), 400))
    save_key = request.headers.get(SAVE_KEY_HEADER)
    if save_key is not None and not SAVE_KEY_PATTERN.fullmatch(save_key):
        return vary_on_htmx(make_response(_("The save has a malformed key. Reload the page."), 400))
    go = request.form.get("go", "next")
    decline = request.form.get("decline")
    shown_before = [i["id"] for i in view.items]
    codec = codec_for(definition)
    current = response.answers or {}
    try:
        if go not in stepper.NAVIGATION and not go.startswith(("add:", "remove:")):
            raise AnswerRefused([Problem(view.page["id"], "bad_operation", go[:40])])
        changes = codec.read_form(request.form, view.page["items"], ignore=STEP_CONTROLS)
        # Answers to questions of this step that the new answers hide are not stored.
        merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
        for item in view.page_items:
            if item["id"] in changes and not definition.is_shown(item, merged):
                changes.pop(item["id"])
        if go.startswith(("add:", "remove:")):
            changes = codec.group_edit(changes, go, shown_before, current)
        if decline:
            item = definition.items_by_id.get(decline)
            if decline not in shown_before:
                raise AnswerRefused([Problem(decline[:60], "not_on_step")])
            if not definition.allows_decline(item):
                raise AnswerRefused([Problem(decline, "cannot_decline")])
    except AnswerRefused as exc:
        return _refusal(view, exc, values=codec.form_values(request.form, view.page["items"]))
    dbs = db_session()
    try:
        if decline:
            changes.pop(decline, None)  # the other answers on the step are saved as well
        version = expected
        # A keyed save that was applied already (its reply was lost) is acknowledged, not applied again.
        if not drafts.already_applied(response, save_key):
            if any(current.get(k) != v and not (v in (None, []) and k not in current)
                   for k, v in changes.items()):
                # Nothing else is written when no decline follows: the save may commit on its own.
                version = drafts.save_answers(dbs, response, definition, changes, expected, save_key=save_key,
                                              alone=not decline)
            if decline and not (decline in (response.declined or []) and decline not in current):
                drafts.decline_item(dbs, response, definition, decline, version, save_key=save_key)
        # Otherwise nothing changes, whatever version the page had: a resent save whose reply was
        # lost (network drop) must not turn into a conflict, and "next" without an answer writes nothing.
        dbs.commit()
    except drafts.DraftConflict:
        dbs.rollback()
        if not drafts.already_applied(response, save_key):  # else: the same save won a race with itself
            # The refused change is not shown as if it were kept: the step shows the stored answers.
            return _render_step_page(view, 409, conflict=True)
    except drafts.DraftClosed:
        dbs.rollback()
        return redirect_to(after_submit_url(response))
    except AnswerRefused as exc:
        dbs.rollback()
        return _refusal(view, exc, values=changes)

    answers, declined = response.answers or {}, response.declined or []
    if go == "stay" and htmx:
        # Live display conditions: the questions of this step that appeared or went away are
        # swapped in place, without touching what is being typed elsewhere.
        fresh = StepView(response, definition, view.page["id"])
        if fresh.page is not None:
            shown_after = [i["id"] for i in fresh.items]
            appeared = [i for i in shown_after
                        if i not in shown_before and not stepper.has_answer(answers, declined, i)]
            changed = [item for item in fresh.page_items
                       if (item["id"] in shown_after) != (item["id"] in shown_before)]
            with force_locale(view.lang):
                html = render_template(
                    "fill/_saved.html", response=response, view=fresh, definition=definition,
                    texts=fresh.texts, lang=fresh.lang, values=answers, changed=changed,
                    shown=shown_after, appeared=appeared, widget=_widget_html, code_key=code_key)
            return vary_on_htmx(make_response(html, 200))
    target = stepper.next_step(definition, answers, declined, page_id=view.page["id"], go=go,
                               shown_before=shown_before, declined_item=decline)
    if target is None:
        return redirect_to(url_for("fill.review", response_uuid=response.uuid))
    if htmx:
        return _render_step_page(StepView(response, definition, target))
    return redirect(url_for("fill.step", response_uuid=response.uuid, page=target), 303)


# -- review and submit --------------------------------------------------------

@bp.route("/fill/<response_uuid>/review")
@login_required
def review(response_uuid: str):
    """Every shown question with its answer, unanswered ones linked back, and the submit button."""
    response = response_or_404(response_uuid)
    if response.status == "submitted":
        return redirect_to(after_submit_url(response))
    instrument = _instrument_for(response)
    view = StepView(response, instrument.definition, None)
    rows = []
    hidden = drafts.hidden_answered(view.definition, response.answers or {})
    # What submit will check: the answers without those a later answer hid.
    kept = {k: v for k, v in (response.answers or {}).items() if k not in hidden}
    missing = drafts.missing_required(view.definition, kept, response.declined or [])
    for item in drafts.shown_items(view.definition, response.answers or {}):
        rows.append({
            "required": item["id"] in missing,
            "item": item,
            "page": view.page_of(item["id"]),
            "answered": drafts.is_answered(response, item["id"]),
            "declined": item["id"] in (response.declined or []),
            "value": (response.answers or {}).get(item["id"]),
        })
    error = request.args.get("error")
    _record_view(response, "review")
    with force_locale(view.lang):
        fragment = render_template(
            "fill/_review.html", view=view, response=response, definition=view.definition,
            texts=view.texts, lang=view.lang, rows=rows, hidden=hidden, code_key=code_key,
            handover=in_handover(), error=error)
    html = render_template("fill/step.html", view=view, response=response, definition=view.definition,
                           fragment=Markup(fragment), handover=in_handover(), lang=view.lang)
    return vary_on_htmx(make_response(html))


def _measurement_check(dbs, response: Response) -> None:
    """Consent and measurement-plan checks for a response about a real person (raises MeasurementRefused)."""
    if response.person_id is None:
        return  # a practice fill: no person, nothing to consent to
    person = dbs.get(Person, response.person_id)
    about = dbs.get(Person, response.about_person_id) if response.about_person_id else None
    wave = dbs.get(Wave, response.wave_id) if response.wave_id else None
    check_can_measure(dbs, current_user, person, wave, about_person=about)


@bp.route("/fill/<response_uuid>/submit", methods=["POST"])
@login_required
def submit(response_uuid: str):
    """Score and submit once; a second submit (double tap, resend) just shows the result."""
    response = response_or_404(response_uuid)
    if response.status == "submitted":
        return redirect_to(after_submit_url(response))
    instrument = _instrument_for(response)
    try:
        expected = int(request.form.get("version", ""))
    except ValueError:
        expected = -1
    dbs = db_session()
    review_url = url_for("fill.review", response_uuid=response.uuid)
    try:
        _measurement_check(dbs, response)
        texts = texts_for(instrument.definition, response.language)
        outcome = drafts.submit_draft(dbs, response, instrument, expected,
                                      context=scoring_context(current_app, instrument, session=dbs,
                                                              municipality_id=response.municipality_id),
                                      wording=texts.record())
        if not outcome.already:
            if outcome.cleared:
                # Answers to questions a later answer hid are removed, never scored; say which (ids only).
                audit.record(dbs, "clear", "response", response.uuid,
                             {"items": outcome.cleared, "reason": "hidden_by_condition"})
            audit.record(dbs, "submit", "response", response.uuid,
                         {"instrument": instrument.id, "cleared": len(outcome.cleared),
                          "declined": len(response.declined or [])})
        dbs.commit()
        if notify_alerts(dbs, get_registry(), response):  # formengine_alert, once per alert
            dbs.commit()
    except drafts.DraftConflict:
        dbs.rollback()
        return redirect(url_for("fill.review", response_uuid=response.uuid, error="conflict"), 303)
    except drafts.DraftIncomplete:
        dbs.rollback()
        return redirect(url_for("fill.review", response_uuid=response.uuid, error="missing"), 303)
    except AnswerError as exc:
        dbs.rollback()
        html = render_template("fill/problem.html", problems=exc.problems, back=review_url)
        return make_response(html, 422)
    except MeasurementRefused as exc:
        dbs.rollback()
        return make_response(render_template("fill/problem.html", problems=[str(exc)], back=review_url), 403)
    return redirect(after_submit_url(response), 303)


# -- language ------------------------------------------------------------------

@bp.route("/fill/<response_uuid>/language", methods=["POST"])
@login_required
def language(response_uuid: str):
    """Switch the language this respondent answers in (the team member's own language stays).

    A switch made without a network waits in the tablet's answer queue with the saves; like a save,
    the reply says the draft's version after it (``X-Draft-Version``), the base of the next queued save.
    """
    response = response_or_404(response_uuid)

    @after_this_request
    def _say_version(reply):
        reply.headers[VERSION_HEADER] = str(response.version)
        return reply

    lang = request.form.get("lang", "")
    page = request.form.get("page") or None
    if lang in current_app.config["LANGUAGES"] and response.status == "draft" and lang != response.language:
        dbs = db_session()
        try:
            drafts.set_language(dbs, response, lang, response.version)
            dbs.commit()
        except drafts.DraftError:
            dbs.rollback()
    if page == "review":
        return redirect_to(url_for("fill.review", response_uuid=response.uuid))
    return redirect_to(url_for("fill.step", response_uuid=response.uuid, page=page))


def earlier_responses(response: Response) -> list[Response]:
    """The same person's earlier submitted responses to the same instrument, oldest first."""
    if response.person_id is None:
        return []
    stmt = scope(select(Response).where(
        Response.person_id == response.person_id,
        Response.instrument_id == response.instrument_id,
        Response.status == "submitted",
        Response.id != response.id,
        Response.submitted_at <= response.submitted_at,
    ).order_by(Response.submitted_at, Response.id), Response)
    return list(db_session().scalars(stmt))
