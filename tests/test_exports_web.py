"""Downloading exports: administrators only, scoped, pseudonymised unless confirmed, audited."""

from __future__ import annotations

import csv
import io
import sys

from sqlalchemy import select

from formengine.db import get_db
from formengine.models import AuditEvent
from tests.conftest import csrf_token
from tests.test_reports_web import reports_data  # noqa: F401 - the shared fixture


def _post(client, **fields):
    token = csrf_token(client.get("/exports/").get_data(as_text=True))
    data = {"layout": "long", "format": "csv", "instrument": "who5", "delimiter": "semicolon",
            "csrf_token": token}
    data.update(fields)
    return client.post("/exports/download", data=data)


def _rows(response, delimiter=";"):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                               delimiter=delimiter))


def test_team_members_cannot_export(reports_data, login_as):  # noqa: F811
    client = login_as("team-a")
    assert client.get("/exports/").status_code == 403
    assert client.post("/exports/download", data={"layout": "long"}).status_code in (400, 403)


def test_municipality_admin_exports_own_data_pseudonymised_and_audited(reports_data, login_as):  # noqa: F811
    app, _ids = reports_data
    client = login_as("admin-a")
    response = _post(client)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="formengine-long-who5')
    rows = _rows(response)
    assert len(rows) == 13 and {r["municipality"] for r in rows} == {"Demo Kommune A"}
    assert all(r["person"].startswith("P") for r in rows) and "REP-A-0" not in response.get_data(as_text=True)
    with get_db(app).session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
        assert event.username == "admin-a" and event.detail["identifiable"] is False
        assert event.detail["format"] == "csv" and event.municipality_id is not None


def test_identifiable_export_needs_confirmation(reports_data, login_as):  # noqa: F811
    app, _ids = reports_data
    client = login_as("admin-a")
    refused = _post(client, identifiable="1")
    assert refused.status_code == 400 and "bekræftes" in refused.get_data(as_text=True)
    response = _post(client, identifiable="1", confirm_identifiable="1", delimiter="comma")
    rows = _rows(response, ",")
    assert {r["family"] for r in rows} >= {"REP-A-0", "REP-A-X"}
    with get_db(app).session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
        assert [e.detail["identifiable"] for e in events] == [True]


def test_sysadmin_exports_every_municipality_and_other_formats(reports_data, login_as):  # noqa: F811
    client = login_as("sysadmin")
    rows = _rows(_post(client))
    assert {r["municipality"] for r in rows} == {"Demo Kommune A", "Demo Kommune B"}
    wide = _post(client, layout="wide", instrument="")
    assert wide.status_code == 200 and "who5_percent_w2" in wide.get_data(as_text=True).splitlines()[0]
    xlsx = _post(client, format="xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    sav = _post(client, format="sav")
    assert sav.status_code == 200 and sav.data[:4] == b"$FL2"
    fhir = _post(client, format="fhir", instrument="")
    assert fhir.status_code == 200 and b'"resourceType": "QuestionnaireResponse"' in fhir.data
    every = _post(client, instrument="")  # long layout, all instruments: a ZIP with a file per instrument
    assert every.status_code == 200 and every.data[:2] == b"PK"
    assert every.headers["Content-Type"] == "application/zip"
    assert _post(client).headers["Content-Type"] == "text/csv; charset=utf-8"  # charset named once
    dta = _post(client, format="dta", layout="wide", instrument="")
    assert dta.status_code == 200 and dta.headers["Content-Disposition"].endswith('.dta"')
    assert _post(client, delimiter="pipe").status_code == 400
    # the families' enrolment period, as in the reports: none enrolled in 2999
    later = _post(client, enrolled_from="2999-01-01")
    assert later.status_code == 200 and _rows(later) == []
    assert len(_rows(_post(client, enrolled_to="2999-12-31"))) == len(rows)
    assert _post(client, enrolled_from="1.1.2024").status_code == 400
    assert _post(client, instrument="nope").status_code == 404


def test_the_page_says_what_spss_needs_when_it_is_missing(reports_data, login_as, monkeypatch):  # noqa: F811
    app, _ids = reports_data
    client = login_as("admin-a")
    assert "kræver Python-pakkerne" not in client.get("/exports/").get_data(as_text=True)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if installed without the spss extra
    monkeypatch.setitem(sys.modules, "pyreadstat", None)
    page = client.get("/exports/").get_data(as_text=True)
    assert 'value="sav" disabled' in page
    assert "kræver Python-pakkerne pandas, pyreadstat" in page and "formengine[spss]" in page
    refused = _post(client, format="sav")
    assert refused.status_code == 400
    assert "formengine[spss]" in refused.get_data(as_text=True)
    assert _post(client, format="xlsx").status_code == 200
    with get_db(app).session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "export"))
        assert [e.detail["format"] for e in events] == ["xlsx"]  # the refused one changed nothing
