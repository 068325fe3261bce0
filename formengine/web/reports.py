"""Report pages: paired progression, a person's timeline, programme tables.

Progression and programme tables are for administrators (a municipality
administrator sees their municipality, a system administrator all or one);
the person timeline is for anyone who may see the person. Groups smaller
than ``REPORT_MIN_GROUP`` (default 5) are withheld, with a note.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from formengine import clock
from formengine.audit import record
from formengine.current_score import scoring_versions_note
from formengine.db import db_session
from formengine.instruments import text
from formengine.models import PERSON_ROLES, SEXES, Family, Municipality, Person
from formengine.numbers import format_figure, reader_locale
from formengine.plan import add_months
from formengine.registry import get_registry
from formengine.reports import AGE_BANDS, Filters, ReportError, person_timeline
from formengine.reports.charts import change_chart, data_uri, progression_chart, rounds_chart, timeline_chart
from formengine.reports.disclosure import threshold_from
from formengine.reports.programme import (
    distribution_instruments,
    distributions,
    index_instruments,
    index_table,
)
from formengine.reports.progression import compare_municipalities, comparison_table, progression_report
from formengine.reports.status import status_report
from formengine.web import params
from formengine.web.access import municipality_choices, municipality_scope, require_admin, scope, ui_lang

bp = Blueprint("reports", __name__, url_prefix="/reports")


def number(value: float | None, digits: int = 1) -> str:
    """A figure for people to read: rounded half up, with the locale's decimal mark (54,1 in Danish)."""
    return format_figure(value, digits, reader_locale())


@bp.app_template_filter("figure")
def _figure_filter(value: float | None, digits: int = 1) -> str:
    return number(value, digits)


def min_group() -> int:
    """The installation's small-cell threshold (``REPORT_MIN_GROUP``)."""
    return threshold_from(current_app.config)


WITHHELD = "x"


@bp.app_template_filter("people")
def _people_filter(count: int | None) -> str:
    """A count of people as a table shows it: ``x`` when small-cell suppression withheld it."""
    return WITHHELD if count is None else str(count)




def filters_from_request() -> Filters:
    """Report filters from the query string; unknown values are refused, not ignored."""
    args = request.args
    role = params.choice("role", PERSON_ROLES, args)
    sex = params.choice("sex", SEXES, args)
    age_band = params.choice("age_band", AGE_BANDS, args)
    return Filters(municipality_ids=municipality_scope(args), role=role, sex=sex,
                   age_band=age_band, enrolled_from=params.iso_date("enrolled_from", args),
                   enrolled_to=params.iso_date("enrolled_to", args),
                   subject_sex=params.choice("subject_sex", SEXES, args),
                   subject_age_band=params.choice("subject_age_band", AGE_BANDS, args))


def score_choices(lang: str) -> list[tuple[str, str]]:
    """("instrument:score", label) for every score of every installed instrument."""
    out = []
    for instrument in get_registry().sorted_instruments():
        for spec in instrument.definition.scores:
            out.append((f"{instrument.id}:{spec['name']}",
                        f"{instrument.definition.title(lang)} – {text(spec['label'], lang)}"))
    return out


def wave_label(selector: Any) -> str:
    if selector == "first":
        return _("First measurement")
    if selector == "last":
        return _("Latest measurement")
    if selector == "closing":
        return _("Closing measurement")
    return _("Measurement %(number)s", number=selector)


WAVE_CHOICES = ("1", "2", "3", "4", "5", "6", "first", "last", "closing")


@bp.route("/")
@login_required
def index():
    require_admin()
    return render_template("reports/index.html")


def _progression_from_request():
    choice = request.args.get("score", "")
    instrument_id, _sep, score_name = choice.partition(":")
    instrument = get_registry().get(instrument_id) if instrument_id else None
    if choice and instrument is None:
        abort(404)
    if instrument is None:
        return None, None
    try:
        report = progression_report(db_session(), instrument, score_name, request.args.get("from", "1"),
                                    request.args.get("to", "2"), filters_from_request())
    except ReportError as exc:
        abort(400, str(exc))
    return instrument, report


@bp.route("/progression")
@login_required
def progression():
    """The paired progression report with its filters."""
    require_admin()
    lang = ui_lang()
    instrument, report = _progression_from_request()
    context: dict[str, Any] = {
        "scores": score_choices(lang), "waves": WAVE_CHOICES, "wave_label": wave_label,
        "municipalities": municipality_choices(), "roles": PERSON_ROLES, "sexes": SEXES,
        "age_bands": AGE_BANDS, "args": request.args, "lang": lang, "min_group": min_group(),
        "report": report, "instrument": instrument,
    }
    if report is not None:
        data = report.to_dict(min_group())
        spec = report.spec
        band_labels = {code: text(label, lang) for code, label in (spec.get("bands") or {}).items()}
        context.update(data=data, band_labels=band_labels, score_label=text(spec["label"], lang))
        if current_user.is_sysadmin and report.filters.municipality_ids is None:
            context["side_by_side"] = comparison_table(compare_municipalities(
                db_session(), instrument, report.score_name, report.from_wave, report.to_wave,
                report.filters), min_group())
        if not data["suppressed"] and report.stats.n:
            context["chart"] = data_uri(progression_chart(
                report, f"{instrument.definition.title(lang)} – {text(spec['label'], lang)}",
                wave_label(report.from_wave), wave_label(report.to_wave), band_labels, min_group()))
        record(db_session(), "view", "report", f"progression:{instrument.id}:{report.score_name}",
               {"filters": report.filters.describe(), "from": str(report.from_wave),
                "to": str(report.to_wave)})
        db_session().commit()
    return render_template("reports/progression.html", **context)


@bp.route("/progression.csv")
@login_required
def progression_csv():
    """The progression report's published figures as CSV (small groups withheld, as on the page)."""
    require_admin()
    instrument, report = _progression_from_request()
    if report is None:
        abort(400, _("Choose a score."))
    data = report.to_dict(min_group())
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["figure", "value"])
    for key in ("instrument", "score", "from", "to", "n_paired", "n_first_only", "mean_from", "mean_to",
                "mean_change", "sd_change", "effect_size", "d_z", "sd_from", "d_baseline", "hedges_g", "t",
                "p_t", "wilcoxon_w", "p_wilcoxon", "suppressed", "min_group"):
        value = data[key]
        if value is None:
            value = WITHHELD if key.startswith("n_") else ""
        writer.writerow([key, value])
    ci = data["ci95"] or ["", ""]
    writer.writerow(["ci95_low", ci[0]])
    writer.writerow(["ci95_high", ci[1]])
    for key, value in (data["directions"] or {}).items():
        writer.writerow([f"n_{key}", WITHHELD if value is None else value])
    for key, value in (data["rci"] or {}).items():
        writer.writerow([f"n_rci_{key}", WITHHELD if value is None else value])
    for key, value in (data["attrition"] or {}).items():
        writer.writerow([f"n_attrition_{key}", WITHHELD if value is None else value])
    if data["band_test"]:
        for key in ("test", "statistic", "df", "p"):
            value = data["band_test"][key]
            writer.writerow([f"band_test_{key}", "" if value is None else value])
    if data["shift"]:
        writer.writerow([])
        writer.writerow(["shift: from \\ to", *data["bands"]])
        for band, cells in zip(data["bands"], data["shift"], strict=True):
            writer.writerow([band, *[WITHHELD if c is None else c for c in cells]])
    if data["suppressed"]:
        writer.writerow([])
        writer.writerow(["note", f"fewer than {min_group()} people paired: figures withheld"])
    record(db_session(), "export", "report", f"progression:{instrument.id}:{report.score_name}",
           {"format": "csv", "filters": report.filters.describe()})
    db_session().commit()
    body = "\ufeff" + buffer.getvalue()
    return Response(body, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="progression-{instrument.id}-{report.score_name}.csv"'})


@bp.route("/persons/<int:person_id>")
@login_required
def timeline(person_id: int):
    """Every score of a person (and about them) per wave, as charts and tables."""
    session = db_session()
    person = session.scalar(scope(select(Person).where(Person.id == person_id), Person))
    if person is None:
        abort(404)
    lang = ui_lang()
    registry = get_registry()
    series = person_timeline(session, registry, person.id)
    family_members = session.scalars(select(Person).where(Person.family_id == person.family_id))
    names = {p.id: p.name for p in family_members}
    groups: list[dict[str, Any]] = []
    for one in series:
        key = (one.instrument_id, one.person_id, one.about_person_id)
        if not groups or groups[-1]["key"] != key:
            instrument = registry.get(one.instrument_id)
            groups.append({"key": key, "instrument": instrument, "series": [],
                           "respondent": names.get(one.person_id, "") if one.person_id else "",
                           "about": names.get(one.about_person_id, "") if one.about_person_id else ""})
        groups[-1]["series"].append(one)
    for group in groups:
        numbers = sorted({(p.wave_number, p.wave_kind) for s in group["series"] for p in s.points})
        waves = [(n, _("Closing") if kind == "closing" else str(n)) for n, kind in numbers]
        group["waves"] = waves
        group["scoring_versions"] = scoring_versions_note(
            v for s in group["series"] for v in s.scoring_versions)
        title = group["instrument"].definition.title(lang)
        group["chart"] = data_uri(timeline_chart(
            group["series"], title, waves, [text(s.spec["label"], lang) for s in group["series"]]))
    family = session.get(Family, person.family_id)
    record(session, "view", "person", person.id, {"page": "timeline"}, municipality_id=person.municipality_id)
    session.commit()
    return render_template("reports/timeline.html", person=person, family=family, groups=groups, lang=lang)


@bp.route("/programme")
@login_required
def programme():
    """Background distributions per municipality, progress distributions per wave, indexes per round."""
    require_admin()
    lang = ui_lang()
    session = db_session()
    filters = Filters(municipality_ids=municipality_scope(request.args))
    registry = get_registry()
    tables = []
    for instrument in distribution_instruments(registry):
        by_municipality = distributions(session, instrument, "municipality", filters)
        by_wave = distributions(session, instrument, "wave", filters)
        tables.append({"instrument": instrument, "by_municipality": by_municipality.protect(min_group()),
                       "by_wave": by_wave.protect(min_group())})
    indexes = [{"instrument": i, "rows": index_table(session, i, filters)}
               for i in index_instruments(registry)]
    record(session, "view", "report", "programme", {"filters": filters.describe()})
    session.commit()
    return render_template("reports/programme.html", tables=tables, indexes=indexes, lang=lang,
                           municipalities=municipality_choices(), args=request.args, min_group=min_group(),
                           text=text)


# -- the status report of one municipality for a period -----------------------------------

def _status_from_request():
    """The status report asked for (municipality and period), or None while no municipality is chosen."""
    scope_ids = municipality_scope(request.args)
    today = clock.today()
    period_to = params.iso_date("to", request.args) or today
    period_from = params.iso_date("from", request.args) or add_months(period_to, -6)
    if period_to < period_from:
        abort(400, _("The period ends before it starts."))
    if scope_ids is None:
        return None, period_from, period_to
    session = db_session()
    municipality = session.get(Municipality, scope_ids[0])
    report = status_report(session, get_registry(), municipality, period_from, period_to, min_group(), today)
    return report, period_from, period_to


def _status_charts(report, lang: str) -> dict[str, Any]:
    """SVG charts (data URIs) for the status document: mean change per instrument, bands, fidelity."""
    charts: dict[str, Any] = {"change": {}, "bands": {}, "fidelity": {}}
    for entry in report.progress:
        bars = [(text(spec["label"], lang), data["mean_change"],
                 tuple(data["ci95"]) if data["ci95"] else None)
                for spec, _report, data in entry.reports if not data["suppressed"]]
        if bars:
            charts["change"][entry.instrument.id] = data_uri(change_chart(
                _("%(title)s: mean change with 95%% confidence interval",
                  title=entry.instrument.definition.title(lang)), bars, _("Mean change")))
        for spec, one, data in entry.reports:
            # a band chart only when every band's count may be shown (a partial stack would mislead)
            if one.has_bands and not data["suppressed"] and data["shift_from"] is not None \
                    and None not in data["shift_from"] + data["shift_to"]:
                band_labels = {code: text(label, lang) for code, label in (spec.get("bands") or {}).items()}
                charts["bands"][(entry.instrument.id, spec["name"])] = data_uri(progression_chart(
                    one, f"{entry.instrument.definition.title(lang)} – {text(spec['label'], lang)}",
                    _("First measurement"), _("Latest measurement"), band_labels, min_group()))
    for instrument, rows in report.fidelity:
        rounds = [str(r.wave_number) for r in rows]
        series = [(text(spec["label"], lang), [r.means.get(spec["name"]) for r in rows])
                  for spec in instrument.definition.scores]
        lows = [s["min"] for s in instrument.definition.scores if s.get("min") is not None]
        highs = [s["max"] for s in instrument.definition.scores if s.get("max") is not None]
        charts["fidelity"][instrument.id] = data_uri(rounds_chart(
            instrument.definition.title(lang), rounds, series,
            (min(lows), max(highs)) if lows and highs else None))
    return charts


def _status_context(report, period_from, period_to) -> dict[str, Any]:
    lang = ui_lang()
    context: dict[str, Any] = {"report": report, "lang": lang, "text": text, "min_group": min_group(),
                               "period_from": period_from, "period_to": period_to,
                               "municipalities": municipality_choices(), "args": request.args,
                               "titles": {i.id: i.definition.title(lang)
                                          for i in get_registry().sorted_instruments()}}
    if report is not None:
        context["charts"] = _status_charts(report, lang)
    return context


@bp.route("/status")
@login_required
def status():
    """The status report of one municipality for a period, printable (print CSS) and as PDF."""
    require_admin()
    report, period_from, period_to = _status_from_request()
    if report is not None:
        record(db_session(), "view", "report", "status",
               {"municipality_id": report.municipality.id, "from": period_from.isoformat(),
                "to": period_to.isoformat()}, municipality_id=report.municipality.id)
        db_session().commit()
    return render_template("reports/status.html", **_status_context(report, period_from, period_to))


@bp.route("/status.pdf")
@login_required
def status_pdf():
    """The status report as PDF (WeasyPrint), from the same document as the page."""
    require_admin()
    report, period_from, period_to = _status_from_request()
    if report is None:
        abort(400, _("Choose a municipality."))
    try:
        import weasyprint
    except (ImportError, OSError):  # the package, or the Pango libraries it loads
        abort(503, _("PDF output needs WeasyPrint and its Pango libraries on the server."))
    html = render_template("reports/status_pdf.html", **_status_context(report, period_from, period_to))
    stylesheet = weasyprint.CSS(filename=str(Path(current_app.static_folder or "") / "status-report.css"))
    pdf = weasyprint.HTML(string=html).write_pdf(stylesheets=[stylesheet])
    record(db_session(), "export", "report", "status",
           {"format": "pdf", "municipality_id": report.municipality.id, "from": period_from.isoformat(),
            "to": period_to.isoformat()}, municipality_id=report.municipality.id)
    db_session().commit()
    name = f"status-{period_from.isoformat()}-{period_to.isoformat()}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
