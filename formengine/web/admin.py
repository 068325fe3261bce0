"""Administration of a municipality: its instrument catalogue, its measurement plan, its audit trail.

Municipality administrators manage their own municipality; a system
administrator picks one with ``?municipality=<id>``. Team members get 403.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import IntegerField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from formengine import audit
from formengine.catalogue import (
    CatalogueError,
    add_rule,
    available_ids,
    enabled_ids,
    plan_rows,
    remove_rule,
    reset_plan,
    schedule_for,
    set_enabled,
)
from formengine.db import db_session
from formengine.models import (
    ROLE_MUNICIPALITY_ADMIN,
    ROLE_TEAM_MEMBER,
    AuditEvent,
    Municipality,
    User,
    utcnow,
)
from formengine.plan import ABOUT, FILLED_BY, RESPONDENT_ROLES, WAVE_KINDS, PlanError, Rule, Schedule
from formengine.registry import get_registry
from formengine.web import params, sessions
from formengine.web.access import admin_required, administered_municipality, own_municipality, ui_lang

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _back(endpoint: str, municipality: Municipality, **values: Any) -> str:
    if current_user.is_sysadmin:
        values["municipality"] = municipality.id
    return url_for(endpoint, **values)


def _posted_municipality() -> Municipality:
    """The administered municipality for a change posted with a valid form token.

    404 when a system administrator has not chosen one, 400 without a valid token.
    """
    municipality = own_municipality()
    params.require_form_token()
    return municipality


def _form_problems(form: FlaskForm) -> str:
    """A refused form's errors in one line: ``field: error, error; field: error``."""
    return "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in form.errors.items())


def _choose(endpoint: str):
    municipalities = list(db_session().scalars(select(Municipality).order_by(Municipality.name)))
    return render_template("admin/choose.html", municipalities=municipalities, endpoint=endpoint)


@bp.route("/")
@admin_required
def index():
    municipality = administered_municipality()
    if municipality is None:
        return _choose("admin.instruments")
    return redirect(_back("admin.instruments", municipality))


# -- instruments ------------------------------------------------------------------------

@bp.route("/instruments")
@admin_required
def instruments():
    municipality = administered_municipality()
    if municipality is None:
        return _choose("admin.instruments")
    session = db_session()
    registry = get_registry()
    enabled = enabled_ids(session, municipality.id)
    installed = registry.sorted_instruments()
    missing = sorted(enabled - set(registry.instruments))
    return render_template("admin/instruments.html", municipality=municipality, installed=installed,
                           enabled=enabled, missing=missing, lang=ui_lang())


@bp.route("/instruments/<instrument_id>/enable", methods=["GET", "POST"])
@admin_required
def enable(instrument_id: str):
    """Show the licence note, then enable on confirmation."""
    municipality = administered_municipality()
    if municipality is None:
        return _choose("admin.instruments")
    instrument = get_registry().get(instrument_id)
    if instrument is None:
        abort(404)
    form = FlaskForm()
    if form.validate_on_submit():
        session = db_session()
        set_enabled(session, get_registry(), municipality, instrument_id, True, user=current_user)
        session.commit()
        flash(_("%(title)s is enabled.", title=instrument.definition.title(ui_lang())))
        return redirect(_back("admin.instruments", municipality), 303)
    return render_template("admin/enable.html", municipality=municipality, instrument=instrument,
                           licence=instrument.definition.licence, lang=ui_lang(), form=form)


@bp.route("/instruments/<instrument_id>/disable", methods=["POST"])
@admin_required
def disable(instrument_id: str):
    """Disable: the instrument leaves the plan and the forms; collected answers stay."""
    municipality = _posted_municipality()
    session = db_session()
    if instrument_id not in enabled_ids(session, municipality.id):
        abort(404)
    try:
        set_enabled(session, get_registry(), municipality, instrument_id, False, user=current_user)
    except CatalogueError as exc:
        abort(400, str(exc))
    session.commit()
    flash(_("%(id)s is disabled. Answers already collected are kept.", id=instrument_id))
    return redirect(_back("admin.instruments", municipality), 303)


# -- the plan -----------------------------------------------------------------------------

class RuleForm(params.CheckedForm):
    instrument_id = SelectField("instrument_id", choices=[])
    respondent_role = SelectField("respondent_role", choices=[(r, r) for r in RESPONDENT_ROLES])
    about = SelectField("about", choices=[(a, a) for a in ABOUT])
    min_age = IntegerField("min_age", validators=[Optional(), NumberRange(0, 120)])
    max_age = IntegerField("max_age", validators=[Optional(), NumberRange(0, 120)])
    waves = SelectMultipleField("waves", choices=[(w, w) for w in WAVE_KINDS])
    filled_by = SelectField("filled_by", choices=[(f, f) for f in FILLED_BY])


class ScheduleForm(params.CheckedForm):
    tolerance_weeks = IntegerField("tolerance_weeks", validators=[NumberRange(0, 12)])
    interval_months = IntegerField("interval_months", validators=[NumberRange(1, 24)])


def _plan_page(municipality: Municipality, rule_form: RuleForm | None = None,
               schedule_form: ScheduleForm | None = None, error: str | None = None, status: int = 200):
    session = db_session()
    registry = get_registry()
    from formengine.catalogue import ensure_plan

    ensure_plan(session, registry, municipality)
    session.commit()
    rows = plan_rows(session, municipality.id)
    available = available_ids(session, registry, municipality.id)
    schedule = schedule_for(municipality)
    rule_form = rule_form or RuleForm(formdata=None)
    # the plan offers only what the municipality has enabled (and is installed)
    rule_form.instrument_id.choices = [(i, i) for i in sorted(available)]
    schedule_form = schedule_form or ScheduleForm(formdata=None, tolerance_weeks=schedule.tolerance_weeks,
                                                  interval_months=schedule.interval_months)
    return render_template("admin/plan.html", municipality=municipality, rows=rows, available=available,
                           rule_form=rule_form, schedule_form=schedule_form, error=error,
                           installed=set(registry.instruments)), status


@bp.route("/plan")
@admin_required
def plan():
    municipality = administered_municipality()
    if municipality is None:
        return _choose("admin.plan")
    return _plan_page(municipality)


@bp.route("/plan/rules", methods=["POST"])
@admin_required
def add_plan_rule():
    municipality = own_municipality()
    form = RuleForm()
    form.instrument_id.choices = [
        (i, i) for i in sorted(available_ids(db_session(), get_registry(), municipality.id))]
    if not form.validate_on_submit():
        return _plan_page(municipality, rule_form=form, error=_form_problems(form), status=400)
    try:
        rule = Rule(instrument_id=form.instrument_id.data, respondent_role=form.respondent_role.data,
                    about=form.about.data, min_age=form.min_age.data, max_age=form.max_age.data,
                    waves=tuple(form.waves.data), filled_by=form.filled_by.data)
    except PlanError as exc:
        return _plan_page(municipality, rule_form=form, error=str(exc), status=400)
    session = db_session()
    add_rule(session, municipality, rule, user=current_user)
    session.commit()
    return redirect(_back("admin.plan", municipality), 303)


@bp.route("/plan/rules/<int:rule_id>/delete", methods=["POST"])
@admin_required
def delete_plan_rule(rule_id: int):
    municipality = _posted_municipality()
    session = db_session()
    try:
        remove_rule(session, municipality, rule_id, user=current_user)
    except CatalogueError:
        abort(404)
    session.commit()
    return redirect(_back("admin.plan", municipality), 303)


@bp.route("/plan/reset", methods=["POST"])
@admin_required
def reset_plan_view():
    municipality = _posted_municipality()
    session = db_session()
    reset_plan(session, get_registry(), municipality, user=current_user)
    session.commit()
    flash(_("The plan is back to the programme's default."))
    return redirect(_back("admin.plan", municipality), 303)


@bp.route("/plan/schedule", methods=["POST"])
@admin_required
def schedule():
    municipality = own_municipality()
    form = ScheduleForm()
    if not form.validate_on_submit():
        return _plan_page(municipality, schedule_form=form, error=_form_problems(form), status=400)
    try:
        Schedule(interval_months=form.interval_months.data, tolerance_weeks=form.tolerance_weeks.data)
    except PlanError as exc:
        return _plan_page(municipality, schedule_form=form, error=str(exc), status=400)
    session = db_session()
    municipality.settings = {**(municipality.settings or {}), "tolerance_weeks": form.tolerance_weeks.data,
                             "interval_months": form.interval_months.data}
    audit.record(session, "change", "schedule", municipality.id,
                 {"tolerance_weeks": form.tolerance_weeks.data, "interval_months": form.interval_months.data},
                 municipality_id=municipality.id)
    session.commit()
    return redirect(_back("admin.plan", municipality), 303)


# -- the audit trail --------------------------------------------------------------------

@bp.route("/audit")
@admin_required
def audit_trail():
    """The municipality's trail, newest first (a system administrator without a choice sees all)."""
    session = db_session()
    municipality = administered_municipality()
    before = params.identifier("before", request.args)
    events = audit.trail(session, None if municipality is None else municipality.id, limit=200,
                         before_id=before)
    audit.record(session, "view", "audit_trail", municipality.id if municipality else "",
                 municipality_id=municipality.id if municipality else None)
    session.commit()
    names = {m.id: m.name for m in session.scalars(select(Municipality))} if current_user.is_sysadmin else {}
    return render_template("admin/audit.html", events=events, municipality=municipality, names=names,
                           page_size=200, AuditEvent=AuditEvent)


# -- users ------------------------------------------------------------------------------

class UserForm(params.CheckedForm):
    username = StringField("username", validators=[DataRequired(), Length(max=80),
                                                   Regexp(r"^[A-Za-z0-9._@-]+$")])
    display_name = StringField("display_name", validators=[Optional(), Length(max=120)])
    role = SelectField("role", choices=[(ROLE_TEAM_MEMBER, ROLE_TEAM_MEMBER),
                                        (ROLE_MUNICIPALITY_ADMIN, ROLE_MUNICIPALITY_ADMIN)])
    password = PasswordField("password", validators=[DataRequired(), Length(min=8, max=200)])


def _users_page(municipality: Municipality, form: UserForm | None = None, status: int = 200):
    users = list(db_session().scalars(select(User).where(User.municipality_id == municipality.id)
                                      .order_by(User.username)))
    return render_template("admin/users.html", municipality=municipality, users=users,
                           form=form or UserForm(formdata=None)), status


def _refused_usernames_in_the_last_hour(session) -> int:
    """How many login names this administrator was refused in the last hour (none count for a system
    administrator, who sees every user anyway)."""
    if current_user.is_sysadmin:
        return 0
    since = utcnow() - timedelta(hours=1)
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "refuse", AuditEvent.entity == "user", AuditEvent.user_id == current_user.id,
        AuditEvent.at >= since)) or 0


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """The municipality's users; an administrator adds team members and administrators here."""
    municipality = administered_municipality()
    if municipality is None:
        return _choose("admin.users")
    if request.method == "GET":
        return _users_page(municipality)
    form = UserForm()
    if not form.validate_on_submit():
        return _users_page(municipality, form, 400)
    session = db_session()
    if _refused_usernames_in_the_last_hour(session) >= int(current_app.config["USERNAME_REFUSALS_PER_HOUR"]):
        # Checked before the name, so that past the limit a free name and a taken one get the same answer.
        form.username.errors = [_("Too many login names were refused in the last hour. Try again later, "
                                  "or ask a system administrator.")]
        return _users_page(municipality, form, 429)
    if session.scalar(select(User.id).where(User.username == form.username.data)) is not None:
        # Usernames are unique across municipalities; the message must not say where one is used, and
        # every refusal is recorded and counted, so trying names to find another municipality's is
        # visible in the audit trail and soon stopped.
        audit.record(session, "refuse", "user", form.username.data, {"reason": "username_unavailable"},
                     municipality_id=municipality.id)
        session.commit()
        form.username.errors = [_("This username cannot be used. Choose another one.")]
        return _users_page(municipality, form, 400)
    from formengine.security import hash_secret

    user = User(username=form.username.data, display_name=(form.display_name.data or "").strip(),
                password_hash=hash_secret(form.password.data), role=form.role.data,
                municipality_id=municipality.id)
    session.add(user)
    session.flush()
    audit.record(session, "create", "user", user.id, {"role": user.role}, municipality_id=municipality.id)
    session.commit()
    flash(_("%(username)s can now log in.", username=user.username))
    return redirect(_back("admin.users", municipality), 303)


def _user_to_change(user_id: int) -> tuple[Municipality, User]:
    """The administered municipality and its user ``user_id`` for a change posted with a valid form token.

    404 for a user of another municipality (or none), 400 without a valid token.
    """
    municipality = own_municipality()
    user = db_session().scalar(
        select(User).where(User.id == user_id, User.municipality_id == municipality.id))
    if user is None:
        abort(404)
    params.require_form_token()
    return municipality, user


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@admin_required
def set_active(user_id: int):
    """Deactivate (or reactivate) a user of the municipality; their records and answers stay."""
    municipality, user = _user_to_change(user_id)
    session = db_session()
    if user.id == current_user.id:
        abort(400, _("You cannot deactivate yourself."))
    user.active = request.form.get("active") == "1"
    if not user.active:
        sessions.end_all(user)
    audit.record(session, "change", "user", user.id, {"active": user.active}, municipality_id=municipality.id)
    session.commit()
    return redirect(_back("admin.users", municipality), 303)


@bp.route("/users/<int:user_id>/sessions", methods=["POST"])
@admin_required
def end_sessions(user_id: int):
    """End every session of a user of the municipality, on every device (e.g. a lost tablet)."""
    municipality, user = _user_to_change(user_id)
    session = db_session()
    sessions.end_all(user)
    audit.record(session, "change", "user", user.id, {"sessions": "ended"}, municipality_id=municipality.id)
    session.commit()
    flash(_("%(username)s is logged out on every device.", username=user.username))
    return redirect(_back("admin.users", municipality), 303)


# -- plugin settings ----------------------------------------------------------------------

def _settings_form(instrument: Any, current: dict[str, Any], lang: str) -> FlaskForm:
    """A form with one choice list per declared setting (values travel as JSON, so 1 and "1" differ)."""
    import json

    class SettingsForm(FlaskForm):
        pass

    for setting in instrument.settings:
        field = SelectField(setting.label.get(lang) or setting.label["da"],
                            choices=[(json.dumps(code), label.get(lang) or label["da"])
                                     for code, label in setting.choices],
                            default=json.dumps(current[setting.name]),
                            description=setting.help.get(lang, ""))
        setattr(SettingsForm, setting.name, field)
    return SettingsForm()


@bp.route("/instruments/<instrument_id>/settings", methods=["GET", "POST"])
@admin_required
def instrument_settings(instrument_id: str):
    """The municipality's values for the settings the instrument's plugin declares."""
    import json

    from formengine.plugin_settings import SettingsError, options_for, save_settings

    municipality = administered_municipality()
    if municipality is None:
        return _choose("admin.instruments")
    instrument = get_registry().get(instrument_id)
    if instrument is None or not instrument.settings:
        abort(404)
    session = db_session()
    form = _settings_form(instrument, options_for(session, instrument, municipality.id), ui_lang())
    status = 200
    if form.validate_on_submit():  # a value that is not one of the choices is refused here
        values = {s.name: json.loads(getattr(form, s.name).data) for s in instrument.settings}
        try:
            save_settings(session, instrument, municipality.id, values, user=current_user)
        except SettingsError as exc:
            session.rollback()
            flash(str(exc))
            status = 400
        else:
            session.commit()
            flash(_("The settings for %(title)s are saved.", title=instrument.definition.title(ui_lang())))
            back = _back("admin.instrument_settings", municipality, instrument_id=instrument.id)
            return redirect(back, 303)
    elif request.method == "POST":
        status = 400
    return render_template("admin/settings.html", municipality=municipality, instrument=instrument,
                           form=form, lang=ui_lang()), status
