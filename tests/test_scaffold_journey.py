"""The municipality developer's journey, end to end, following docs/plugins.md.

Generate a plugin with ``formengine new-plugin``, change its items and scoring,
run its own tests, install it (as a drop-in), enable it for a municipality as
its administrator, put it on the plan, and fill it in on the tablet as a team
member. The bundled ICS and LØFT worksheets go the same way, and their result
views (the triangle, the scaling chart over time) appear on the result page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from formengine import clock
from formengine.cli import main
from formengine.db import get_db
from formengine.models import Consent, Family, Municipality, Person, Response
from formengine.registry import get_registry
from formengine.responses import submit_new_response
from tests.conftest import csrf_token, load_demo_into, login

TODAY = clock.today()


@pytest.fixture(autouse=True)
def _today_is_read_per_test():
    """The app reads the date per request; a run that crosses midnight must not compare with yesterday."""
    global TODAY
    TODAY = clock.today()


def years_ago(years: int) -> date:
    """A birth date making the person ``years`` old today (a month past the birthday)."""
    return TODAY - timedelta(days=round(365.25 * years) + 30)


def develop_plugin(tmp_path):
    """new-plugin, then the developer adds a fourth item and moves the bands, and the plugin's tests pass."""
    result = CliRunner().invoke(main, ["new-plugin", "home_check", "--dir", str(tmp_path / "src")])
    assert result.exit_code == 0, result.output
    project = tmp_path / "src" / "home_check"
    package = project / "home_check"

    definition = json.loads((package / "definition.json").read_text())
    definition["items"].insert(3, {"id": "q4", "scale": "agree4",
                                   "label": {"da": "Jeg har nogen at lave noget med",
                                             "en": "I have someone to do things with"}})
    score = definition["scores"][0]
    score["max"], score["label"] = 12, {"da": "Samlet score (0-12)", "en": "Total score (0-12)"}
    (package / "definition.json").write_text(json.dumps(definition, ensure_ascii=False, indent=2))

    scoring = (package / "scoring.py").read_text()
    scoring = scoring.replace('ITEMS = ("q1", "q2", "q3")', 'ITEMS = ("q1", "q2", "q3", "q4")')
    scoring = scoring.replace('BANDS = [("low", 0, 4), ("ok", 5, 9)]',
                              'BANDS = [("low", 0, 6), ("ok", 7, 12)]')
    scoring = scoring.replace('SCORING_VERSION = "1"', 'SCORING_VERSION = "2"')
    (package / "scoring.py").write_text(scoring)

    def whole(codes, total, band):
        return (dict(zip(("q1", "q2", "q3", "q4"), codes, strict=True)),
                {"valid": True, "scores": {"total": total}, "bands": {"total": band}, "flags": []})

    vectors = [
        whole((0, 0, 0, 0), 0, "low"), whole((3, 3, 3, 3), 12, "ok"),
        whole((2, 2, 2, 0), 6, "low"), whole((2, 2, 2, 1), 7, "ok"),
        ({"q1": 3, "q2": 3, "q3": 1}, {"valid": True, "scores": {"total": 9}, "flags": ["prorated"]}),
        ({"q1": 3, "q2": 3}, {"valid": False, "scores": {"total": None}, "flags": ["missing_items"]}),
    ]
    (package / "vectors.jsonl").write_text("".join(
        json.dumps({"answers": a, "expected": e}) + "\n" for a, e in vectors))

    own_tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"], cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)}, capture_output=True, text=True, timeout=120)
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    return package


@pytest.fixture(scope="module")
def developed(tmp_path_factory):
    return develop_plugin(tmp_path_factory.mktemp("developer"))


@pytest.fixture
def app(make_app, tmp_path, developed):
    package = developed
    # "Install" as a drop-in: the package folder goes into instance/plugins/.
    shutil.copytree(package, tmp_path / "instance" / "plugins" / "home_check")
    app = make_app()
    registry = get_registry(app)
    assert registry.get("home_check") is not None, [p.reason for p in registry.failed]
    load_demo_into(app)
    return app


def family_in_a(app) -> dict[str, int]:
    """A new family in Demo Kommune A: a 14-year-old and a 9-year-old, both consenting."""
    with get_db(app).session() as s:
        municipality = s.scalars(select(Municipality).where(Municipality.name == "Demo Kommune A")).one()
        family = Family(municipality_id=municipality.id, case_ref="PLUG-1",
                        enrolled_on=TODAY - timedelta(days=2))
        s.add(family)
        s.flush()
        ids = {"family": family.id}
        for role, name, born in (("youth", "Ida", years_ago(14)), ("child", "Bo", years_ago(9))):
            person = Person(family_id=family.id, municipality_id=municipality.id, role=role, name=name,
                            birth_date=born)
            s.add(person)
            s.flush()
            s.add(Consent(person_id=person.id, municipality_id=municipality.id, given_by=name,
                          given_on=family.enrolled_on, scope="test"))
            ids[name] = person.id
        s.commit()
    return ids


def enable(client, instrument_id: str, licence_holder: str) -> None:
    """The administrator reads the licence note and confirms."""
    page = client.get(f"/admin/instruments/{instrument_id}/enable")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert licence_holder in html
    done = client.post(f"/admin/instruments/{instrument_id}/enable", data={"csrf_token": csrf_token(html)})
    assert done.status_code == 303, done.get_data(as_text=True)


def add_rule(client, instrument_id: str, role: str, filled_by: str, min_age: int, max_age: int) -> None:
    html = client.get("/admin/plan").get_data(as_text=True)
    added = client.post("/admin/plan/rules", data={
        "csrf_token": csrf_token(html), "instrument_id": instrument_id, "respondent_role": role,
        "about": "self", "min_age": str(min_age), "max_age": str(max_age),
        "waves": ["baseline", "progress", "closing"], "filled_by": filled_by,
    })
    assert added.status_code == 303, added.get_data(as_text=True)


def start(client, family_id: int, person_id: int, instrument_id: str) -> str:
    """Start the planned form from the family page; returns the draft's uuid."""
    html = client.get(f"/families/{family_id}").get_data(as_text=True)
    action = f"/persons/{person_id}/measure"
    forms = re.findall(rf'<form method="post" action="{action}"[^>]*>(.*?)</form>', html, re.S)
    form = next(f for f in forms if f'value="{instrument_id}"' in f)
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form))
    fields.update({"csrf_token": csrf_token(html), "mode": "in_person"})
    started = client.post(action, data=fields)
    assert started.status_code == 303, started.get_data(as_text=True)
    return started.headers["Location"].rstrip("/").split("/")[-1]


def step(client, uuid: str, page: str | None = None) -> tuple[str, int, str]:
    html = client.get(f"/fill/{uuid}" + (f"?page={page}" if page else "")).get_data(as_text=True)
    version = int(re.search(r'name="version" id="fill-version" value="(\d+)"', html).group(1))
    current = re.search(r'name="page" value="([^"]+)"', html).group(1)
    return html, version, current


def save(client, uuid: str, page: str, answers: dict[str, str]) -> str:
    html, version, current = step(client, uuid, page)
    assert current == page
    saved = client.post(f"/fill/{uuid}/save", data={
        "csrf_token": csrf_token(html), "version": str(version), "page": page, "go": "next", **answers})
    assert saved.status_code == 303, saved.get_data(as_text=True)
    return html


def submit(client, uuid: str) -> str:
    review = client.get(f"/fill/{uuid}/review").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', review).group(1)
    done = client.post(f"/fill/{uuid}/submit", data={"csrf_token": csrf_token(review), "version": version})
    assert done.status_code == 303, done.get_data(as_text=True)
    result = client.get(done.headers["Location"])
    assert result.status_code == 200
    return result.get_data(as_text=True)


def test_a_developer_plugin_is_enabled_planned_and_filled_on_the_tablet(app):
    ids = family_in_a(app)
    admin = app.test_client()
    assert login(admin, "admin-a").status_code == 302
    instruments_page = admin.get("/admin/instruments").get_data(as_text=True)
    assert "home_check" in instruments_page
    enable(admin, "home_check", "The municipality that wrote this plugin")
    add_rule(admin, "home_check", "youth", "respondent", 12, 17)

    team = app.test_client()
    assert login(team, "team-a").status_code == 302
    uuid = start(team, ids["family"], ids["Ida"], "home_check")
    first, _, page = step(team, uuid)
    assert page == "q1" and "Jeg har det godt derhjemme" in first
    for item, code in (("q1", "3"), ("q2", "2"), ("q3", "2"), ("q4", "1")):
        save(team, uuid, item, {item: code})
    save(team, uuid, "comment", {"comment": "<b>Tak</b> for i dag"})
    result = submit(team, uuid)
    assert "Samlet score (0-12)" in result and ">8<" in result and "Ingen bemærkning" in result
    with get_db(app).session() as s:
        stored = s.scalars(select(Response).where(Response.uuid == uuid)).one()
        assert stored.answers == {"q1": 3, "q2": 2, "q3": 2, "q4": 1, "comment": "<b>Tak</b> for i dag"}
        assert stored.current_score.scoring_version == "2"


def test_the_ics_worksheet_is_filled_by_a_team_member_and_shows_the_triangle(app):
    ids = family_in_a(app)
    admin = app.test_client()
    assert login(admin, "admin-a").status_code == 302
    enable(admin, "ics_worksheet", "formengine project")
    add_rule(admin, "ics_worksheet", "child", "team_member", 0, 17)

    team = app.test_client()
    assert login(team, "team-a").status_code == 302
    uuid = start(team, ids["family"], ids["Bo"], "ics_worksheet")
    html = save(team, uuid, "health", {
        "health_resources": "Spiser godt", "health_concerns": "<script>alert(1)</script> ofte syg",
        "health_rating": '"concern"'})
    assert 'class="options ics-rating"' in html  # the plugin's own widget, inside the stepper
    save(team, uuid, "school", {"school_resources": "Glad for sin lærer", "school_concerns": "",
                                "school_rating": '"resource"'})
    result = submit(team, uuid)
    assert "<svg" in result and 'data-dimension="health" data-rating="concern"' in result
    assert 'data-dimension="school" data-rating="resource"' in result
    assert "<script>alert(1)</script>" not in result and "&lt;script&gt;alert(1)&lt;/script&gt;" in result
    assert "8 of 10 dimensions have no rating" in result


def test_the_loft_worksheet_charts_each_goal_over_the_persons_worksheets(app):
    ids = family_in_a(app)
    admin = app.test_client()
    assert login(admin, "admin-a").status_code == 302
    enable(admin, "loft_worksheet", "formengine project")
    add_rule(admin, "loft_worksheet", "youth", "team_member", 12, 17)

    # An earlier worksheet for Ida, two months ago.
    instrument = get_registry(app).get("loft_worksheet")
    earlier_day = TODAY - timedelta(days=60)
    with get_db(app).session() as s:
        municipality_id = s.get(Person, ids["Ida"]).municipality_id
        day = earlier_day.isoformat()
        earlier = submit_new_response(
            s, instrument, {"goals": [
                {"goal_no": 1, "goal": "Komme i skole", "scaling": 3, "scaled_on": day},
                {"goal_no": 2, "goal": "Færre skænderier", "scaling": 5, "scaled_on": day}]},
            municipality_id=municipality_id, person_id=ids["Ida"], about_person_id=ids["Ida"],
            entered_by=None, wording={"kind": "project_labels"})
        earlier.submitted_at = datetime.combine(earlier_day, datetime.min.time(), tzinfo=UTC)
        s.commit()

    team = app.test_client()
    assert login(team, "team-a").status_code == 302
    uuid = start(team, ids["family"], ids["Ida"], "loft_worksheet")
    html, version, page = step(team, uuid)
    assert page == "goals_page"
    saved = team.post(f"/fill/{uuid}/save", data={
        "csrf_token": csrf_token(html), "version": str(version), "page": "goals_page", "go": "next",
        "goals__count": "2",
        "goals__0__goal_no": "1", "goals__0__goal": "Komme i skole hver dag", "goals__0__scaling": "7",
        "goals__0__scaled_on": TODAY.isoformat(),
        "goals__1__goal_no": "2", "goals__1__goal": "Færre skænderier & mere ro", "goals__1__scaling": "4",
        "goals__1__scaled_on": TODAY.isoformat(),
    })
    assert saved.status_code == 303, saved.get_data(as_text=True)
    save(team, uuid, "next_step_page", {"next_step": "Vækkeur", "step_sign": "Op kl. 7",
                                        "follow_up": (TODAY + timedelta(days=30)).isoformat()})
    result = submit(team, uuid)
    lines = dict(re.findall(r'<g class="loft-goal" data-goal="(\d+)" data-values="([\d,]*)"', result))
    assert lines == {"1": "3,7", "2": "5,4"}
    assert "Bygger på 2 arbejdsark." in result
    assert "Færre skænderier &amp; mere ro" in result and "Vækkeur" in result
