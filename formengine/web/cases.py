"""Families, persons, consent and the due list: the team member's start page.

Every lookup goes through :func:`formengine.web.access.scope`, so another
municipality's family, person or round is "not found" (404), never "forbidden".
Every view and change of personal data is recorded in the audit trail.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from formengine import audit, clock
from formengine.db import db_session
from formengine.measurement import (
    STATUS_MISSED,
    IntegrityRefused,
    MeasurementRefused,
    WaveView,
    active_consent,
    check_can_measure,
    close_family,
    family_plan,
    has_consent,
    municipality_plan,
    next_due,
)
from formengine.models import MODES, Consent, Family, Municipality, Person, Wave
from formengine.plan import STATUS_DONE, STATUS_DUE, STATUS_OVERDUE, STATUS_UPCOMING, age_on
from formengine.registry import get_registry
from formengine.responses import start_draft
from formengine.texts import ProjectLabels
from formengine.web import params
from formengine.web.access import (
    family_or_404,
    person_or_404,
    scope,
    ui_lang,
    wave_or_404,
)

bp = Blueprint("cases", __name__)

CASE_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/ ]{0,63}$")
# A closed family stays on the due list while its closing measurement can still be taken.
CLOSED_FAMILY_DAYS_ON_LIST = 12 * 7
# "Coming up" lists measurements whose window opens within this many days.
UPCOMING_DAYS = 8 * 7


# -- labels shared with the templates ------------------------------------------------

def labels() -> dict[str, dict[str, str]]:
    """Translated labels for stored codes (roles, sexes, statuses, wave kinds, modes)."""
    return {
        "role": {"child": _("Child"), "youth": _("Young person"), "parent": _("Parent"), "other": _("Other"),
                 "municipality": _("Municipality")},
        "sex": {"female": _("Female"), "male": _("Male"), "not_stated": _("Not stated")},
        "status": {STATUS_DONE: _("Done"), STATUS_DUE: _("Due now"), STATUS_OVERDUE: _("Overdue"),
                   STATUS_UPCOMING: _("Coming up"), STATUS_MISSED: _("Missed"),
                   "open": _("Open"), "closed": _("Closed")},
        "mode": {"in_person": _("In person"), "phone": _("By phone"), "paper": _("Paper entry")},
        "filled_by": {"respondent": _("Answered by the person"),
                      "team_member": _("Filled in by the team member")},
        "about": {"self": _("About themself"), "child": _("About a child"),
                  "municipality": _("The municipality")},
        "wave_kind": {"baseline": _("Enrolment"), "progress": _("Progress"), "closing": _("Closing")},
    }


def wave_label(wave: Wave) -> str:
    if wave.kind == "baseline":
        return _("Measurement 1 (enrolment)")
    if wave.kind == "closing":
        return _("Closing measurement")
    return _("Measurement %(number)d", number=wave.number)


def instrument_title(instrument_id: str) -> str:
    instrument = get_registry().get(instrument_id)
    if instrument is None:
        return _("%(id)s (not installed)", id=instrument_id)
    return instrument.definition.title(ui_lang())


def person_label(person: Person | None) -> str:
    if person is None:
        return ""
    role = labels()["role"].get(person.role, person.role)
    return f"{person.name} ({role})" if person.name else f"{role} #{person.id}"


def missing_consent(entry: Any, on: date | None = None) -> list[Person]:
    """The persons of a plan entry (respondent and the child it is about) without consent on ``on``."""
    on = on or clock.today()
    people = [p for p in (entry.person, entry.about) if p is not None]
    return [p for i, p in enumerate(people) if p not in people[:i] and not has_consent(p, on)]


@bp.app_context_processor
def _case_helpers() -> dict[str, Any]:
    return {"case_labels": labels, "wave_label": wave_label, "instrument_title": instrument_title,
            "person_label": person_label, "age_on": age_on, "missing_consent": missing_consent}


# -- scoped lookups -------------------------------------------------------------------

# -- forms --------------------------------------------------------------------------

def _not_future(form: FlaskForm, field: DateField) -> None:
    if field.data and field.data > clock.today():
        raise ValidationError(_("The date cannot be in the future."))


class FamilyForm(params.CheckedForm):
    case_ref = StringField("case_ref", validators=[DataRequired(), Length(max=64)])
    enrolled_on = DateField("enrolled_on", validators=[DataRequired(), _not_future])

    def validate_case_ref(self, field: StringField) -> None:
        field.data = (field.data or "").strip()
        if not CASE_REF_RE.match(field.data):
            raise ValidationError(_("Use letters, digits, spaces and - _ . / only (at most 64)."))


class PersonForm(params.CheckedForm):
    role = SelectField("role", choices=[("child", "child"), ("youth", "youth"), ("parent", "parent"),
                                        ("other", "other")])
    name = StringField("name", validators=[Optional(), Length(max=120)])
    birth_date = DateField("birth_date", validators=[DataRequired(), _not_future])
    sex = SelectField("sex", choices=[("female", "female"), ("male", "male"), ("not_stated", "not_stated")],
                      default="not_stated")
    cpr = StringField("cpr", validators=[Optional()])

    def details(self) -> dict[str, Any]:
        """The person's details as stored (role, name without surrounding spaces, birth date, sex)."""
        return {"role": self.role.data, "name": (self.name.data or "").strip(),
                "birth_date": self.birth_date.data, "sex": self.sex.data}

    def checked_cpr(self, municipality: Municipality) -> str | None:
        """The CPR number typed, without dashes ("" when none); None when refused (the field says why)."""
        cpr = (self.cpr.data or "").replace("-", "").strip()
        if cpr and not municipality.cpr_enabled:
            self.cpr.errors = [_("This municipality does not store CPR numbers.")]
            return None
        if cpr and not re.fullmatch(r"\d{10}", cpr):
            self.cpr.errors = [_("A CPR number is 10 digits.")]
            return None
        return cpr


class ConsentForm(params.CheckedForm):
    given_by = StringField("given_by", validators=[DataRequired(), Length(max=120)])
    given_on = DateField("given_on", validators=[DataRequired(), _not_future])
    scope = TextAreaField("scope", validators=[DataRequired(), Length(max=2000)])


class WithdrawForm(params.CheckedForm):
    withdrawn_on = DateField("withdrawn_on", validators=[DataRequired(), _not_future])


class CloseForm(params.CheckedForm):
    closed_on = DateField("closed_on", validators=[DataRequired()])
    close_persons = BooleanField("close_persons")


class MeasureForm(params.CheckedForm):
    instrument_id = HiddenField(validators=[DataRequired(), Length(max=26)])
    wave_id = HiddenField(validators=[DataRequired()])
    about_person_id = HiddenField()
    mode = SelectField("mode", choices=[(m, m) for m in MODES], default="in_person")


def _form_problems(form: FlaskForm) -> list[str]:
    return [f"{name}: {'; '.join(str(e) for e in errors)}" for name, errors in form.errors.items()]


# -- the due list (start page) ------------------------------------------------------

def _listed_families(session) -> list[Family]:
    recent = clock.today() - timedelta(days=CLOSED_FAMILY_DAYS_ON_LIST)
    stmt = select(Family).where(or_(Family.status == "open", Family.closed_on >= recent)) \
        .order_by(Family.case_ref)
    return list(session.scalars(scope(stmt, Family)))


@bp.route("/due")
@login_required
def due():
    """Measurements due now, overdue and coming up, per family and person; one tap starts a form."""
    session = db_session()
    registry = get_registry()
    today = clock.today()
    groups: dict[str, list[dict[str, Any]]] = {STATUS_OVERDUE: [], STATUS_DUE: [], STATUS_UPCOMING: []}
    horizon = today + timedelta(days=UPCOMING_DAYS)
    for family in _listed_families(session):
        for view in family_plan(session, registry, family, today):
            if view.status not in groups or (view.status == STATUS_UPCOMING and view.window[0] > horizon):
                continue
            for entry in view.open_entries:
                groups[view.status].append({"family": family, "view": view, "entry": entry})
    municipal = []
    municipalities = ([session.get(Municipality, current_user.municipality_id)]
                      if not current_user.is_sysadmin else
                      list(session.scalars(select(Municipality).order_by(Municipality.name))))
    for municipality in municipalities:
        if municipality is None:
            continue
        for view in municipality_plan(session, registry, municipality, today):
            if view.status in groups:
                municipal.extend({"municipality": municipality, "view": view, "entry": e}
                                 for e in view.open_entries)
    for rows in groups.values():
        rows.sort(key=lambda r: (r["view"].wave.due_on, r["family"].case_ref))
    audit.record(session, "view", "due_list", "", {"families": len({r["family"].id for rows in groups.values()
                                                                    for r in rows})})
    session.commit()
    return render_template("cases/due.html", groups=groups, municipal=municipal, today=today,
                           measure_form=MeasureForm())


# -- families -------------------------------------------------------------------------

@bp.route("/families")
@login_required
def families():
    session = db_session()
    status = params.choice("status", ("open", "closed", "all"), request.args, default="open")
    stmt = select(Family).order_by(Family.case_ref)
    if status in ("open", "closed"):
        stmt = stmt.where(Family.status == status)
    rows = list(session.scalars(scope(stmt, Family)))
    audit.record(session, "view", "family_list", "", {"count": len(rows)})
    session.commit()
    return render_template("cases/families.html", families=rows, status=status)


@bp.route("/families/new", methods=["GET", "POST"])
@login_required
def new_family():
    if current_user.is_sysadmin:
        abort(403)  # families belong to a municipality; its own staff register them
    form = FamilyForm()
    status = 200
    if form.validate_on_submit():
        session = db_session()
        exists = session.scalar(select(Family.id).where(
            Family.municipality_id == current_user.municipality_id, Family.case_ref == form.case_ref.data))
        if exists is None:
            family = Family(municipality_id=current_user.municipality_id, case_ref=form.case_ref.data,
                            enrolled_on=form.enrolled_on.data, status="open")
            session.add(family)
            session.flush()
            audit.record(session, "create", "family", family.id)
            session.commit()
            return redirect(url_for("cases.family", family_id=family.id), 303)
        form.case_ref.errors = [_("This case reference is already in use.")]
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("cases/family_form.html", form=form), status


@bp.route("/families/<int:family_id>")
@login_required
def family(family_id: int):
    session = db_session()
    fam = family_or_404(family_id)
    views = family_plan(session, get_registry(), fam)
    today = clock.today()
    audit.record(session, "view", "family", fam.id, municipality_id=fam.municipality_id)
    session.commit()
    consent = {p.id: active_consent(p, today) for p in fam.persons}
    # For a measurement just done: when the same form is due next (the following wave).
    following = {views[i].wave.id: views[i + 1].wave.due_on for i in range(len(views) - 1)
                 if views[i + 1].wave.due_on >= today}
    # What can be measured now first, then what comes up, then the past, newest first.
    rank = {STATUS_OVERDUE: 0, STATUS_DUE: 0, STATUS_UPCOMING: 1}
    ordered = sorted(views, key=lambda v: (rank.get(v.status, 2), -v.wave.number))
    return render_template("cases/family.html", family=fam, views=ordered, today=today, consent=consent,
                           next_due=next_due(views), measure_form=MeasureForm(), following=following,
                           cpr_enabled=_municipality(fam.municipality_id).cpr_enabled)


def _municipality(municipality_id: int) -> Municipality:
    return db_session().get_one(Municipality, municipality_id)


def _person_form_page(session, form: PersonForm, fam: Family, municipality: Municipality,
                      person: Person | None = None):
    """The form that adds a person to ``fam`` or changes ``person`` (400 after a refused post).

    Showing it is recorded in the audit trail: a view of the family, or of the person whose details it shows.
    """
    if person is None:
        audit.record(session, "view", "family", fam.id, {"page": "new_person"},
                     municipality_id=fam.municipality_id)
    else:
        audit.record(session, "view", "person", person.id, {"page": "edit"},
                     municipality_id=person.municipality_id)
    session.commit()
    return render_template("cases/person_form.html", form=form, family=fam, person=person,
                           cpr_enabled=municipality.cpr_enabled), 400 if request.method == "POST" else 200


@bp.route("/families/<int:family_id>/persons/new", methods=["GET", "POST"])
@login_required
def new_person(family_id: int):
    session = db_session()
    fam = family_or_404(family_id)
    municipality = _municipality(fam.municipality_id)
    form = PersonForm()
    if fam.status == "closed":
        return render_template("cases/message.html", title=_("The family is closed"),
                               message=_("Persons cannot be added to a closed family."),
                               back=url_for("cases.family", family_id=fam.id)), 409
    if form.validate_on_submit():
        cpr = form.checked_cpr(municipality)
        if cpr is not None:
            person = Person(family_id=fam.id, municipality_id=fam.municipality_id, **form.details(),
                            cpr=cpr or None, status="open")
            session.add(person)
            session.flush()
            # The audit trail names the record, never its content (no name, no CPR number).
            audit.record(session, "create", "person", person.id, {"family": fam.id, "role": person.role},
                         municipality_id=fam.municipality_id)
            session.commit()
            return redirect(url_for("cases.consent", person_id=person.id), 303)
    return _person_form_page(session, form, fam, municipality)


@bp.route("/persons/<int:person_id>/edit", methods=["GET", "POST"])
@login_required
def edit_person(person_id: int):
    """Correct a person's details (a wrong birth date changes what the plan asks for)."""
    session = db_session()
    person = person_or_404(person_id)
    fam = person.family
    municipality = _municipality(person.municipality_id)
    back = url_for("cases.family", family_id=fam.id)
    if fam.status == "closed":
        return render_template("cases/message.html", title=_("The family is closed"),
                               message=_("The persons of a closed family cannot be changed."), back=back), 409
    form = PersonForm(obj=None if request.method == "POST" else person)
    if request.method == "GET":
        form.cpr.data = ""
    if form.validate_on_submit():
        cpr = form.checked_cpr(municipality)
        if cpr is not None:
            new = form.details()
            if cpr:
                new["cpr"] = cpr
            changed = sorted(k for k, v in new.items() if getattr(person, k) != v)
            for key in changed:
                setattr(person, key, new[key])
            # Which fields changed, never their values (names, dates and CPR numbers are personal data).
            audit.record(session, "change", "person", person.id, {"fields": changed},
                         municipality_id=person.municipality_id)
            session.commit()
            return redirect(back, 303)
    return _person_form_page(session, form, fam, municipality, person)


@bp.route("/persons/<int:person_id>/consent", methods=["GET", "POST"])
@login_required
def consent(person_id: int):
    session = db_session()
    person = person_or_404(person_id)
    form = ConsentForm()
    status = 200
    if form.validate_on_submit():
        record = Consent(person_id=person.id, municipality_id=person.municipality_id,
                         given_by=(form.given_by.data or "").strip(), given_on=form.given_on.data,
                         scope=(form.scope.data or "").strip(), recorded_by=current_user.id)
        session.add(record)
        session.flush()
        audit.record(session, "create", "consent", record.id, {"person": person.id},
                     municipality_id=person.municipality_id)
        session.commit()
        return redirect(url_for("cases.family", family_id=person.family_id), 303)
    if request.method == "POST":
        status = 400
    else:
        audit.record(session, "view", "person", person.id, municipality_id=person.municipality_id)
        session.commit()
    return render_template("cases/consent.html", form=form, person=person,
                           withdraw_form=WithdrawForm(), today=clock.today()), status


@bp.route("/consents/<int:consent_id>/withdraw", methods=["POST"])
@login_required
def withdraw_consent(consent_id: int):
    session = db_session()
    record = session.scalar(scope(select(Consent).where(Consent.id == consent_id), Consent))
    if record is None:
        abort(404)
    form = WithdrawForm()
    if not form.validate_on_submit():
        abort(400, "; ".join(_form_problems(form)))
    if record.withdrawn_on is not None:
        abort(409, _("This consent is already withdrawn."))
    if form.withdrawn_on.data < record.given_on:
        abort(400, _("Consent cannot be withdrawn before it was given."))
    record.withdrawn_on = form.withdrawn_on.data
    audit.record(session, "change", "consent", record.id, {"withdrawn": True},
                 municipality_id=record.municipality_id)
    session.commit()
    return redirect(url_for("cases.consent", person_id=record.person_id), 303)


@bp.route("/families/<int:family_id>/close", methods=["GET", "POST"])
@login_required
def close(family_id: int):
    session = db_session()
    fam = family_or_404(family_id)
    form = CloseForm()
    error = None
    status = 200
    if request.method == "GET" and form.closed_on.data is None:
        form.closed_on.data = clock.today()
    if form.validate_on_submit() and form.closed_on.data is not None:  # DataRequired: always a date here
        try:
            wave = close_family(session, fam, form.closed_on.data, close_persons=form.close_persons.data)
        except IntegrityRefused as exc:
            session.rollback()
            error, status = str(exc), 400
        else:
            audit.record(session, "change", "family", fam.id,
                         {"closed": True, "closing_wave": wave.id}, municipality_id=fam.municipality_id)
            session.commit()
            flash(_("The family is closed. The closing measurement is now due."))
            return redirect(url_for("cases.family", family_id=fam.id), 303)
    elif request.method == "POST":
        status = 400
    open_persons = [p for p in fam.persons if p.status == "open"]
    audit.record(session, "view", "family", fam.id, {"page": "close"}, municipality_id=fam.municipality_id)
    session.commit()
    return render_template("cases/close.html", family=fam, form=form, error=error,
                           open_persons=open_persons), status


# -- starting a measurement ----------------------------------------------------------------

def _find_view(views: list[WaveView], wave_id: int) -> WaveView | None:
    return next((v for v in views if v.wave.id == wave_id), None)


def _refuse(message: str, back: str, status: int = 400):
    return render_template("cases/message.html", title=_("The form was not started"), message=message,
                           back=back), status


def _fill_url(response_uuid: str) -> str:
    if "fill.step" in current_app.view_functions:
        return url_for("fill.step", response_uuid=response_uuid)
    return url_for("instruments.result", response_uuid=response_uuid)


def _start_form(session, instrument_id: str, mode: str, municipality_id: int, details: dict[str, Any],
                **subject: int):
    """Open (or resume) the draft the plan asks for and go to it; the start is recorded in the audit trail.

    The caller has checked scope, plan and consent; ``subject`` names the person, the person the answers
    are about and the wave (:func:`formengine.responses.start_draft`), ``details`` what the audit
    trail records besides the instrument.
    """
    instrument = get_registry().get(instrument_id)
    if instrument is None:  # uninstalled since the plan was read
        abort(404)
    response = start_draft(
        session, instrument, municipality_id=municipality_id, entered_by=current_user.id,
        wording=ProjectLabels(instrument.definition).record(), language=ui_lang(), mode=mode, **subject)
    audit.record(session, "create", "response", response.uuid, {"instrument": instrument.id, **details},
                 municipality_id=municipality_id)
    session.commit()
    return redirect(_fill_url(response.uuid), 303)


@bp.route("/persons/<int:person_id>/measure", methods=["POST"])
@login_required
def measure(person_id: int):
    """Start (or resume) the form the plan asks for; checks scope, consent, open period and plan."""
    session = db_session()
    person = person_or_404(person_id)
    back = url_for("cases.family", family_id=person.family_id)
    form = MeasureForm()
    if not form.validate_on_submit():
        return _refuse("; ".join(_form_problems(form)) or _("The request was incomplete."), back)
    wave = wave_or_404(params.identifier("wave_id", request.form) or 0)
    if wave.family_id != person.family_id:
        abort(404)
    about = person
    if form.about_person_id.data:
        about = person_or_404(params.identifier("about_person_id", request.form) or 0)
        if about.family_id != person.family_id:
            abort(404)
    registry = get_registry()
    view = _find_view(family_plan(session, registry, person.family), wave.id)
    entry = None if view is None else next(
        (e for e in view.entries if e.planned and e.instrument_id == form.instrument_id.data
         and e.person is not None and e.person.id == person.id and e.about is not None
         and e.about.id == about.id), None)
    if view is None or entry is None:
        return _refuse(_("This form is not on the plan for this person at this measurement."), back)
    if entry.status == STATUS_DONE:
        return _refuse(_("This form has already been submitted for this measurement."), back, 409)
    if view.status == STATUS_UPCOMING:
        return _refuse(_("This measurement opens on %(day)s.", day=view.window[0].isoformat()), back)
    if view.status == STATUS_MISSED:
        return _refuse(_("This measurement has passed; take the current one instead."), back)
    try:
        check_can_measure(session, current_user, person, wave, about_person=about)
    except MeasurementRefused as exc:
        return _refuse(str(exc), back, 403)
    return _start_form(session, entry.instrument_id, form.mode.data, person.municipality_id,
                       {"wave": wave.id, "person": person.id, "about": about.id, "mode": form.mode.data},
                       person_id=person.id, about_person_id=about.id, wave_id=wave.id)


@bp.route("/rounds/<int:wave_id>/measure", methods=["POST"])
@login_required
def measure_municipality(wave_id: int):
    """Start (or resume) a form answered for the municipality itself (e.g. fidelity)."""
    session = db_session()
    wave = wave_or_404(wave_id)
    back = url_for("cases.due")
    if wave.family_id is not None:
        abort(404)
    form = MeasureForm()
    if not form.validate_on_submit():
        return _refuse("; ".join(_form_problems(form)), back)
    municipality = _municipality(wave.municipality_id)
    registry = get_registry()
    view = _find_view(municipality_plan(session, registry, municipality), wave.id)
    entry = None if view is None else next(
        (e for e in view.entries if e.planned and e.instrument_id == form.instrument_id.data), None)
    if view is None or entry is None:
        return _refuse(_("This form is not on the municipality's plan for this round."), back)
    if entry.status == STATUS_DONE:
        return _refuse(_("This form has already been submitted for this round."), back, 409)
    if view.status in (STATUS_UPCOMING, STATUS_MISSED):
        return _refuse(_("This round is not open now."), back)
    try:
        check_can_measure(session, current_user, None, wave)
    except MeasurementRefused as exc:
        return _refuse(str(exc), back, 403)
    return _start_form(session, entry.instrument_id, form.mode.data, municipality.id,
                       {"wave": wave.id, "municipality_form": True}, wave_id=wave.id)

