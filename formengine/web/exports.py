"""Data exports for evaluators: administrators only, every export audited, content streamed."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_login import login_required

from formengine.audit import record
from formengine.db import db_session
from formengine.exports.dataset import ExportRequest, scored_instrument_ids
from formengine.exports.service import ExportError, FormatUnavailable, build_export
from formengine.exports.writers import DELIMITERS, OPTIONAL, MissingPackages, missing_packages
from formengine.registry import get_registry
from formengine.web import params
from formengine.web.access import municipality_choices, municipality_scope, require_admin, ui_lang
from formengine.web.errors import render_error, safe_stream

bp = Blueprint("exports", __name__, url_prefix="/exports")


def unavailable_text(missing: MissingPackages) -> str:
    """What the administrator reads when a format's packages are not installed."""
    return _("This format needs the Python packages %(packages)s, which are not installed on this server. "
             "Ask the system administrator to install formengine[%(extra)s].",
             packages=", ".join(missing.packages), extra=missing.extra)


@bp.route("/")
@login_required
def index():
    require_admin()
    unavailable = {fmt: unavailable_text(missing) for fmt in OPTIONAL
                   if (missing := missing_packages(fmt)) is not None}
    return render_template("reports/export.html", instruments=get_registry().sorted_instruments(),
                           municipalities=municipality_choices(), lang=ui_lang(),
                           unavailable=unavailable)


@bp.route("/download", methods=["POST"])
@login_required
def download():
    """Stream the chosen export. An identifiable export needs both boxes ticked."""
    require_admin()
    form = request.form
    registry = get_registry()
    layout = form.get("layout", "long")
    fmt = form.get("format", "csv")
    delimiter = DELIMITERS.get(form.get("delimiter", "semicolon"))
    if delimiter is None:
        return render_error(400, _("Unknown delimiter."))
    identifiable = form.get("identifiable") == "1"
    if identifiable and form.get("confirm_identifiable") != "1":
        return render_error(400, _("An identifiable export must be confirmed: tick both boxes."))
    instrument_id = form.get("instrument", "")
    if instrument_id:
        if registry.get(instrument_id) is None:
            abort(404)
        instrument_ids: tuple[str, ...] = (instrument_id,)
    elif layout == "long" or fmt == "fhir":
        # every instrument; the long layout then comes as a ZIP with one file per instrument
        instrument_ids = tuple(i.id for i in registry.sorted_instruments())
    else:
        instrument_ids = scored_instrument_ids(registry)
    municipalities = municipality_scope(form)
    enrolled_from, enrolled_to = params.iso_date("enrolled_from", form), params.iso_date("enrolled_to", form)
    export_request = ExportRequest(instrument_ids=instrument_ids, municipality_ids=municipalities,
                                   identifiable=identifiable, enrolled_from=enrolled_from,
                                   enrolled_to=enrolled_to)
    session = db_session()
    try:
        export = build_export(session, registry, export_request, layout=layout, fmt=fmt,
                              delimiter=delimiter, lang=ui_lang())
    except FormatUnavailable as exc:
        return render_error(400, unavailable_text(exc.missing))
    except ExportError as exc:
        return render_error(400, str(exc))
    record(session, "export", "export", ",".join(instrument_ids)[:64], {
        "layout": layout, "format": fmt, "identifiable": identifiable,
        "municipality_ids": list(municipalities) if municipalities is not None else "all",
        "instruments": list(instrument_ids), "file": export.filename,
        "enrolled_from": enrolled_from.isoformat() if enrolled_from else None,
        "enrolled_to": enrolled_to.isoformat() if enrolled_to else None,
    }, municipality_id=municipalities[0] if municipalities and len(municipalities) == 1 else None)
    session.commit()

    def generate():
        for chunk in export.chunks:
            yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk

    # content_type, not mimetype: the type already names its charset (mimetype would add it twice)
    return Response(stream_with_context(safe_stream(generate())), content_type=export.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{export.filename}"'})
