"""The status report of a municipality for a period: printable HTML and PDF for Demo Kommune A."""

from __future__ import annotations

import base64
import re
import zlib

import pytest
from sqlalchemy import select

from formengine import clock
from formengine.db import get_db
from formengine.models import AuditEvent, Municipality
from formengine.plan import add_months
from formengine.registry import get_registry
from formengine.reports.status import status_report
from tests.conftest import load_demo_into


@pytest.fixture
def demo_cases(app):
    load_demo_into(app, cases=True)
    return app


def _period():
    today = clock.today()
    return add_months(today, -24), today


def test_status_page_for_demo_kommune_a(demo_cases, login_as):
    start, end = _period()
    client = login_as("admin-a")
    page = client.get(f"/reports/status?from={start.isoformat()}&to={end.isoformat()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Statusrapport: Demo Kommune A" in html
    assert f"Periode {start.isoformat()} til {end.isoformat()}" in html
    for heading in ("Familier", "Målinger, der faldt og blev gennemført", "Fidelitet over tid", "Baggrund",
                    "Scoringsversioner"):
        assert heading in html, heading
    # the print stylesheet and the PDF link
    assert "status-report.css" in html and "/reports/status.pdf?" in html
    # Demo Kommune B is nowhere in A's report
    assert "Demo Kommune B" not in html
    # every count of people on the page is 0, 5 or more, or withheld (x)
    cells = re.findall(r"<td>(\d+)</td>", html)
    assert cells and all(int(c) == 0 or int(c) >= 5 for c in cells if "." not in c)
    # charts are SVG without scripts
    for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html):
        svg = base64.b64decode(uri).decode()
        assert svg.startswith("<svg") and "<script" not in svg
    with get_db(demo_cases).session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "report")).all()
        assert any(e.entity_id == "status" and e.username == "admin-a" for e in events)


def test_status_report_content_for_demo_kommune_a(demo_cases):
    start, end = _period()
    with get_db(demo_cases).session() as session:
        a = session.scalar(select(Municipality).where(Municipality.name == "Demo Kommune A"))
        report = status_report(session, get_registry(demo_cases), a, start, end, 5)
        # the demo enrols nine families in A within the last 24 months; one is closed
        assert report.families["enrolled"] == 9 and report.families["closed"] is None
        assert report.progress and report.scoring_versions
        total = report.completion_total
        assert total.due is None or total.due == sum(r.due or 0 for r in report.completion) or any(
            r.due is None for r in report.completion)


def test_status_pdf_for_demo_kommune_a(demo_cases, login_as):
    pytest.importorskip("weasyprint")
    start, end = _period()
    client = login_as("admin-a")
    response = client.get(f"/reports/status.pdf?from={start.isoformat()}&to={end.isoformat()}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = response.data
    assert body.startswith(b"%PDF") and len(body) > 10_000
    # the document's title names the municipality and period (PDF metadata), over more than one page
    objects = _pdf_objects(body)
    titles = b" | ".join(re.findall(rb"/Title \(([^)]*)\)", objects))
    assert b"Statusrapport Demo Kommune A" in titles and start.isoformat().encode() in titles
    # the headings are the PDF's bookmarks
    assert b"Statusrapport: Demo Kommune A" in titles and b"Baggrund" in titles
    assert len(re.findall(rb"/Type /Page\b", objects)) >= 2
    # a sysadmin must choose a municipality; a bad period is refused
    admin = login_as("sysadmin")
    assert admin.get("/reports/status.pdf").status_code == 400
    assert admin.get("/reports/status?from=2025-01-01&to=2024-01-01").status_code == 400


def _pdf_objects(body: bytes) -> bytes:
    """The PDF's objects with compressed object streams unpacked (where WeasyPrint keeps the metadata)."""
    out = [body]
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", body, re.S):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(out)


def test_team_member_gets_no_status_report(demo_cases, login_as):
    assert login_as("team-a").get("/reports/status").status_code == 403
