"""The rescoring page: preview what the current scoring rules would change, then rescore, as a job.

A system administrator rescores every municipality or one; a municipality
administrator only their own. The request only queues a job (see
:mod:`formengine.jobs`); the run page shows its progress from the database.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from formengine.db import db_session
from formengine.jobs import jobs
from formengine.models import Municipality, RescoreRun
from formengine.registry import current_flask_app
from formengine.rescore_service import rescorable, targets_for
from formengine.rescoring import RescoreError, Summary, active_run, outdated_counts, start_run
from formengine.web import params
from formengine.web.access import admin_required, municipality_scope
from formengine.web.hx import htmx

bp = Blueprint("rescoring", __name__, url_prefix="/admin/rescoring")


def _scope_id() -> int | None:
    """The municipality a run is limited to: the admin's own; a system administrator's choice or all."""
    scope = municipality_scope()
    return scope[0] if scope else None


def _visible(run: RescoreRun) -> bool:
    return current_user.is_sysadmin or run.municipality_id == current_user.municipality_id


@bp.route("/")
@admin_required
def index():
    session = db_session()
    app = current_flask_app()
    instruments = rescorable(app)
    offered = outdated_counts(session, targets_for(app), municipality_id=_scope_id())
    runs = session.scalars(select(RescoreRun).order_by(RescoreRun.id.desc()).limit(20)).all()
    municipalities = (session.scalars(select(Municipality).order_by(Municipality.name)).all()
                      if current_user.is_sysadmin else [])
    return render_template("admin/rescoring.html", instruments=instruments, offered=offered,
                           runs=[r for r in runs if _visible(r)], active=active_run(session),
                           municipalities=municipalities, form=FlaskForm(), municipality=None)


@bp.route("/preview", methods=["POST"])
@admin_required
def preview():
    params.require_form_token()
    chosen = request.form.getlist("instrument")
    app = current_flask_app()
    if not chosen:
        flash(_("Choose at least one instrument."))
        return redirect(url_for("rescoring.index"), 303)
    return _queue(app, chosen, _scope_id(), dry_run=True)


@bp.route("/runs/<int:run_id>/confirm", methods=["POST"])
@admin_required
def confirm(run_id: int):
    params.require_form_token()
    session = db_session()
    previewed = session.get(RescoreRun, run_id)
    if previewed is None or not _visible(previewed) or not previewed.dry_run or previewed.status != "done":
        abort(404)
    return _queue(current_flask_app(), previewed.instruments, previewed.municipality_id,
                  dry_run=False)


def _queue(app, instrument_ids, municipality_id, *, dry_run: bool):
    session = db_session()
    try:
        targets_for(app, instrument_ids)
        run = start_run(session, instrument_ids, municipality_id=municipality_id, dry_run=dry_run,
                        requested_by=current_user.id, reason="administration page")
    except RescoreError as exc:
        flash(_("Rescoring was refused: %(reason)s", reason=str(exc)))
        return redirect(url_for("rescoring.index"), 303)
    run_id = run.id
    jobs(app).rescore(run_id)
    return redirect(url_for("rescoring.run", run_id=run_id), 303)


@bp.route("/runs/<int:run_id>")
@admin_required
def run(run_id: int):
    session = db_session()
    found = session.get(RescoreRun, run_id)
    if found is None or not _visible(found):
        abort(404)
    name = session.get_one(Municipality, found.municipality_id).name if found.municipality_id else None
    fragment = bool(htmx)
    template = "admin/_rescore_status.html" if fragment else "admin/rescore_run.html"
    response = current_app.make_response(render_template(
        template, run=found, summary=Summary.from_dict(found.summary),
        municipality_name=name, form=FlaskForm(), active=active_run(session), fragment=fragment,
        municipality=None))
    response.headers["Vary"] = "HX-Request"
    return response
