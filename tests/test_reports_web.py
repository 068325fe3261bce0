"""Report pages as an administrator and a team member would use them (scoping, suppression, audit)."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from formengine.db import get_db
from formengine.models import AuditEvent, Municipality
from formengine.registry import get_registry
from tests.test_reports import World, who5_answers

PAIRS_A = [(40, 52), (28, 44), (60, 64), (48, 72), (32, 40), (20, 36)]


def _municipality(session, name):
    return session.scalar(select(Municipality).where(Municipality.name == name))


@pytest.fixture
def reports_data(demo):
    """Six WHO-5 pairs in Demo Kommune A (+1 first only), two pairs in B."""
    app = demo
    ids = {}
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        a, b = _municipality(session, "Demo Kommune A"), _municipality(session, "Demo Kommune B")
        for i, (first, second) in enumerate(PAIRS_A):
            family = world.family(a, f"REP-A-{i}", enrolled_on=date(2024, 1, 1))
            person = world.person(family, name=f"a{i}")
            world.respond("who5", who5_answers(first), person, world.wave(family, 1))
            world.respond("who5", who5_answers(second), person, world.wave(family, 2))
            ids.setdefault("a_person", person.id)
        lone = world.family(a, "REP-A-X")
        world.respond("who5", who5_answers(50 - 2), world.person(lone, name="ax"), world.wave(lone, 1))
        for i, (first, second) in enumerate([(80, 40), (76, 36)]):
            family = world.family(b, f"REP-B-{i}")
            person = world.person(family, name=f"b{i}")
            world.respond("who5", who5_answers(first), person, world.wave(family, 1))
            world.respond("who5", who5_answers(second), person, world.wave(family, 2))
            ids.setdefault("b_person", person.id)
    return app, ids


def _figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'<th scope="row">([^<]+)</th><td>([^<]*)</td>', html))


def test_team_member_cannot_open_progression_or_programme(reports_data, login_as):
    client = login_as("team-a")
    assert client.get("/reports/progression?score=who5:percent").status_code == 403
    assert client.get("/reports/programme").status_code == 403


def test_municipality_admin_sees_own_municipality_only(reports_data, login_as):
    client = login_as("admin-a")
    page = client.get("/reports/progression?score=who5:percent&from=1&to=2")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    figures = _figures(html)
    assert figures["Antal parrede (besvaret begge)"] == "6"
    assert figures["Kun første måling (frafald)"] == "x"  # one person: withheld
    assert figures["Gennemsnit ved første måling"] == "38,0"
    assert figures["Gennemsnitlig ændring"] == "13,3"
    assert "data:image/svg+xml;base64," in html
    svg = base64.b64decode(re.search(r'data:image/svg\+xml;base64,([^"]+)', html).group(1)).decode()
    assert svg.startswith("<svg") and "<script" not in svg
    # Demo Kommune B's data is not in A's report, whatever the query string says
    other = _municipality_id(reports_data[0], "Demo Kommune B")
    again = client.get(f"/reports/progression?score=who5:percent&municipality={other}")
    assert _figures(again.get_data(as_text=True))["Antal parrede (besvaret begge)"] == "6"


def _municipality_id(app, name):
    with get_db(app).session() as session:
        return _municipality(session, name).id


def test_sysadmin_filters_and_small_groups_are_withheld(reports_data, login_as):
    client = login_as("sysadmin")
    everyone = _figures(client.get("/reports/progression?score=who5:percent").get_data(as_text=True))
    assert everyone["Antal parrede (besvaret begge)"] == "8"
    b = _municipality_id(reports_data[0], "Demo Kommune B")
    html = client.get(f"/reports/progression?score=who5:percent&municipality={b}").get_data(as_text=True)
    assert _figures(html)["Antal parrede (besvaret begge)"] == "x"  # two people: withheld
    assert "Færre end 5 personer" in html and "Gennemsnitlig ændring" not in html
    assert "data:image/svg" not in html
    # unknown filter values are refused
    assert client.get("/reports/progression?score=who5:percent&role=king").status_code == 400
    assert client.get("/reports/progression?score=who5:nope").status_code == 400
    assert client.get("/reports/progression?score=nope:percent").status_code == 404


def test_progression_csv_download_is_audited(reports_data, login_as):
    client = login_as("admin-a")
    response = client.get("/reports/progression.csv?score=who5:percent&from=1&to=2")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = dict(r[:2] for r in csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                                          delimiter=";") if len(r) >= 2)
    assert rows["n_paired"] == "6" and float(rows["mean_change"]) == pytest.approx(80 / 6)
    with get_db(reports_data[0]).session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "report")).all()
        assert {(e.action, e.username) for e in events} == {("export", "admin-a")}


def test_person_timeline_scoped_and_marks_meaningful_change(reports_data, login_as):
    app, ids = reports_data
    client = login_as("team-a")
    assert client.get(f"/reports/persons/{ids['b_person']}").status_code == 404
    page = client.get(f"/reports/persons/{ids['a_person']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "WHO-5" in html and "+12,0" in html and "klart bedre" in html
    assert "data:image/svg+xml;base64," in html
    with get_db(app).session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "person")).one()
        assert (event.action, event.entity_id) == ("view", str(ids["a_person"]))


def test_programme_tables_with_the_programme_forms(demo, login_as):
    registry = get_registry(demo)
    if registry.get("background_child") is None or registry.get("fidelity") is None:
        pytest.skip("the programme plugin is not installed")
    background = registry.get("background_child").definition
    item = next(i for i in background.items if i.get("type", "choice") == "choice" and not i.get("show_if")
                and background.is_required(i, {}))
    with get_db(demo).session() as session:
        world = World(session, registry)
        a = _municipality(session, "Demo Kommune A")
        for i in range(11):
            family = world.family(a, f"PRG-{i}")
            person = world.person(family, role="child", name=f"c{i}", birth_date=date(2012, 1, 1))
            answers = _minimal_answers(background)
            answers[item["id"]] = background.scale_options(item)[0 if i < 6 else 1]["code"]
            world.respond("background_child", answers, person, world.wave(family, 1))
        fidelity = registry.get("fidelity").definition
        first = fidelity.items[0]
        world.respond("fidelity", {first["id"]: 4}, None, world.wave(None, 1, "progress", municipality=a),
                      municipality=a)
    client = login_as("admin-a")
    html = client.get("/reports/programme").get_data(as_text=True)
    assert background.title("da") in html and fidelity.title("da") in html
    assert "55 %" in html and "45 %" in html
    assert "4,00" in html


def _minimal_answers(definition):
    """Every required choice item answered with its first option (fills the form's required fields)."""
    answers = {}
    for item in definition.items:
        if item.get("type", "choice") == "choice" and definition.is_required(item, answers):
            answers[item["id"]] = definition.scale_options(item)[0]["code"]
    return answers


def test_english_interface_and_withheld_csv(reports_data, login_as):
    from tests.conftest import csrf_token

    client = login_as("sysadmin")
    page = client.get("/reports/progression?score=who5:percent")
    client.post("/language", data={"lang": "en", "next": "/reports/",
                                   "csrf_token": csrf_token(page.get_data(as_text=True))})
    a = _municipality_id(reports_data[0], "Demo Kommune A")
    html = client.get(f"/reports/progression?score=who5:percent&municipality={a}").get_data(as_text=True)
    figures = _figures(html)
    assert figures["Mean at the first measurement"] == "38.0"
    # changes 12, 16, 4, 24, 8, 16: mean 13.33, SD 7.00, t(0.975, 5) = 2.571
    assert figures["95% confidence interval of the change"] == "6.0 to 20.7"
    b = _municipality_id(reports_data[0], "Demo Kommune B")
    body = client.get(f"/reports/progression.csv?score=who5:percent&municipality={b}").get_data(as_text=True)
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";") if r}
    assert rows["n_paired"] == ["x"] and rows["mean_change"] == [""] and rows["suppressed"] == ["True"]
    assert "figures withheld" in rows["note"][0]


def test_progression_page_names_its_statistics_and_compares_municipalities(reports_data, login_as):
    client = login_as("sysadmin")
    client.post("/language", data={"lang": "en", "next": "/reports/", "csrf_token": _token(client)})
    html = client.get("/reports/progression?score=who5:percent").get_data(as_text=True)
    figures = _figures(html)
    # changes in A: 12, 16, 4, 24, 8, 16 and in B: -40, -40 (eight pairs in all)
    assert "Paired t-test, p-value" in figures and "Wilcoxon signed-rank test, p-value" in figures
    assert "Cohen's d (mean change / SD at the first measurement)" in html.replace("&#39;", "'")
    assert "d_z (mean change / SD of the changes)" in figures
    assert "Municipalities side by side" in html and "Demo Kommune B" in html
    assert "Why people measured at the first measurement have no second" in html
    # a municipality administrator gets no side-by-side table
    admin = login_as("admin-a")
    assert "Municipalities side by side" not in admin.get("/reports/progression?score=who5:percent").get_data(
        as_text=True)


def _token(client):
    from tests.conftest import csrf_token

    return csrf_token(client.get("/reports/progression").get_data(as_text=True))
