"""Families, persons, consent, the due list and starting a measurement, as a team member uses them."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from formengine import catalogue, clock
from formengine.db import get_db
from formengine.measurement import IntegrityRefused, MeasurementRefused, check_can_measure, close_family
from formengine.models import AuditEvent, Consent, Family, Municipality, Person, Response, User, Wave
from formengine.plan import add_months
from formengine.registry import get_registry
from formengine.responses import submit_new_response
from tests.conftest import csrf_token

TODAY = clock.today()


@pytest.fixture(autouse=True)
def _today_is_read_per_test():
    """The app reads the date per request; a run that crosses midnight must not compare with yesterday."""
    global TODAY
    TODAY = clock.today()
# The instruments these tests enable: the bundled WHO-5 and the programme's forms.
ENABLED = ("who5", "background_child", "background_parent", "progress_child", "progress_parent")


def years_ago(years: int, days: int = 0) -> date:
    return add_months(TODAY, -12 * years) - timedelta(days=days)


def make_family(app, *, municipality="Demo Kommune A", case_ref="T-1", enrolled_on=None, persons=None,
                consent=True, enabled=ENABLED):
    """A family with persons (role, name, birth date) in a demo municipality; returns ids by name."""
    enrolled_on = enrolled_on or TODAY - timedelta(days=3)
    persons = persons if persons is not None else [
        ("parent", "Mor", years_ago(40)), ("child", "Lille", years_ago(9, 10)),
        ("child", "Mellem", years_ago(12, 10)), ("youth", "Stor", years_ago(18, 10)),
    ]
    registry = get_registry(app)
    with get_db(app).session() as s:
        municipality_row = s.scalars(select(Municipality).where(Municipality.name == municipality)).one()
        # The demo enables every installed instrument; these tests choose their own set.
        for instrument_id in registry.instruments:
            catalogue.set_enabled(s, registry, municipality_row, instrument_id, instrument_id in enabled,
                                  user=None)
        family = Family(municipality_id=municipality_row.id, case_ref=case_ref, enrolled_on=enrolled_on)
        s.add(family)
        s.flush()
        ids = {"family": family.id, "municipality": municipality_row.id}
        for role, name, born in persons:
            person = Person(family_id=family.id, municipality_id=municipality_row.id, role=role, name=name,
                            birth_date=born)
            s.add(person)
            s.flush()
            ids[name] = person.id
            if consent:
                s.add(Consent(person_id=person.id, municipality_id=municipality_row.id, given_by=name,
                              given_on=enrolled_on, scope="test"))
    return ids


def family_html(client, family_id):
    page = client.get(f"/families/{family_id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def wave_section(html: str, heading: str) -> str:
    start = html.index(heading)
    end = html.find("<section", start)
    return html[start:end if end != -1 else len(html)]


def planned(html: str) -> set[tuple[str, str]]:
    """(person name, instrument id) pairs that have a start button on the page."""
    pairs = set()
    for form in re.findall(r'<form method="post" action="/persons/\d+/measure".*?</form>', html, re.S):
        instrument = re.search(r'name="instrument_id" value="([^"]+)"', form).group(1)
        pairs.add(instrument)
    return pairs


def start_forms(html: str) -> list[dict[str, str]]:
    forms = []
    for action, body in re.findall(r'<form method="post" action="(/persons/\d+/measure)"[^>]*>(.*?)</form>',
                                   html, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', body))
        fields["action"] = action
        forms.append(fields)
    return forms


def test_login_lands_on_the_due_list(client, demo):
    page = client.get("/login")
    response = client.post("/login", data={"username": "team-a", "password": "demo",
                                           "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"].endswith("/due")


def test_family_page_shows_exactly_the_right_forms_by_role_age_and_what_is_enabled(app, login_as):
    ids = make_family(app)
    client = login_as("team-a")
    html = family_html(client, ids["family"])
    forms = start_forms(html)
    got = {(int(f["action"].split("/")[2]), f["instrument_id"], int(f["about_person_id"])) for f in forms}
    mor, lille, mellem, stor = ids["Mor"], ids["Lille"], ids["Mellem"], ids["Stor"]
    assert got == {
        (mor, "background_parent", mor), (mor, "progress_parent", mor),
        (lille, "background_child", lille), (lille, "progress_child", lille),
        (mellem, "background_child", mellem), (mellem, "progress_child", mellem),
        (stor, "background_child", stor), (stor, "progress_child", stor), (stor, "who5", stor),
    }
    assert "Måling 1 (indskrivning)" in html


def test_start_a_form_then_submitting_marks_it_done_with_the_next_due_date(app, login_as):
    ids = make_family(app)
    client = login_as("team-a")
    form = next(f for f in start_forms(family_html(client, ids["family"])) if f["instrument_id"] == "who5")
    data = {**{k: v for k, v in form.items() if k != "action"}, "mode": "phone"}
    started = client.post(form["action"], data=data)
    assert started.status_code == 303
    uuid = started.headers["Location"].rstrip("/").split("/")[-1]
    with get_db(app).session() as s:
        draft = s.scalars(select(Response).where(Response.uuid == uuid)).one()
        assert (draft.status, draft.person_id, draft.about_person_id, draft.mode) == (
            "draft", ids["Stor"], ids["Stor"], "phone")
        assert draft.entered_by == s.scalars(select(User.id).where(User.username == "team-a")).one()
        wave = s.get(Wave, draft.wave_id)
        assert (wave.kind, wave.number, wave.family_id) == ("baseline", 1, ids["family"])
    # Starting again resumes the same draft instead of opening a second one.
    again = client.post(form["action"], data=data)
    assert again.headers["Location"] == started.headers["Location"]
    # Submit (the form engine's job) and the plan shows it done, with the next due date.
    with get_db(app).session() as s:
        draft = s.scalars(select(Response).where(Response.uuid == uuid)).one()
        instrument = get_registry(app).get("who5")
        draft.answers = {f"who5_{n}": 3 for n in range(1, 6)}
        draft.status = "submitted"
        draft.submitted_at = draft.updated_at
        from formengine.responses import rescore

        rescore(s, draft, instrument)
    html = family_html(client, ids["family"])
    assert "who5" not in planned(html)
    assert "Næste: " + add_months(TODAY - timedelta(days=3), 6).isoformat() in html
    assert f"/responses/{uuid}" in html


def test_no_measurement_without_consent(app, login_as):
    ids = make_family(app, consent=False)
    client = login_as("team-a")
    html = family_html(client, ids["family"])
    assert "Intet samtykke" in html
    with get_db(app).session() as s:
        wave = s.scalars(select(Wave).where(Wave.family_id == ids["family"], Wave.kind == "baseline")).one()
    token = csrf_token(html)
    refused = client.post(f"/persons/{ids['Stor']}/measure", data={
        "csrf_token": token, "instrument_id": "who5", "wave_id": wave.id, "about_person_id": ids["Stor"],
        "mode": "in_person"})
    assert refused.status_code == 403
    assert "Der er ikke registreret samtykke" in refused.get_data(as_text=True)
    with get_db(app).session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 0
    # Record consent through the page; now the form starts.
    page = client.get(f"/persons/{ids['Stor']}/consent")
    recorded = client.post(f"/persons/{ids['Stor']}/consent", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "given_by": "Stor selv",
        "given_on": TODAY.isoformat(), "scope": "Målinger"})
    assert recorded.status_code == 303
    started = client.post(f"/persons/{ids['Stor']}/measure", data={
        "csrf_token": token, "instrument_id": "who5", "wave_id": wave.id, "about_person_id": ids["Stor"],
        "mode": "in_person"})
    assert started.status_code == 303


def test_withdrawn_consent_stops_measurement(app, demo):
    ids = make_family(app)
    with get_db(app).session() as s:
        consent = s.scalars(select(Consent).where(Consent.person_id == ids["Stor"])).one()
        consent.withdrawn_on = TODAY
    with get_db(app).session() as s:
        person = s.get(Person, ids["Stor"])
        wave = _baseline(s, ids, app)
        user = s.scalars(select(User).where(User.username == "team-a")).one()
        with pytest.raises(MeasurementRefused, match="consent"):
            check_can_measure(s, user, person, wave)
        # The day before it was withdrawn the measurement was allowed.
        check_can_measure(s, user, person, wave, on=TODAY - timedelta(days=1))


def _baseline(s, ids, app):
    from formengine.measurement import family_plan

    family = s.get(Family, ids["family"])
    return family_plan(s, get_registry(app), family)[0].wave


def test_a_form_not_on_the_plan_is_refused(app, login_as):
    ids = make_family(app)
    client = login_as("team-a")
    html = family_html(client, ids["family"])
    wave_id = start_forms(html)[0]["wave_id"]
    # WHO-5 is for young people aged 18 or more; Lille is 9.
    refused = client.post(f"/persons/{ids['Lille']}/measure", data={
        "csrf_token": csrf_token(html), "instrument_id": "who5", "wave_id": wave_id,
        "about_person_id": ids["Lille"], "mode": "in_person"})
    assert refused.status_code == 400
    assert "ikke på planen" in refused.get_data(as_text=True)


def test_an_upcoming_measurement_cannot_be_started_yet(app, login_as):
    ids = make_family(app)
    client = login_as("team-a")
    html = family_html(client, ids["family"])
    with get_db(app).session() as s:
        upcoming = s.scalars(select(Wave).where(Wave.family_id == ids["family"],
                                                Wave.kind == "progress")).one()
    refused = client.post(f"/persons/{ids['Stor']}/measure", data={
        "csrf_token": csrf_token(html), "instrument_id": "who5", "wave_id": upcoming.id,
        "about_person_id": ids["Stor"], "mode": "in_person"})
    assert refused.status_code == 400
    assert "åbner" in refused.get_data(as_text=True)


def test_closing_needs_open_persons_closed_in_the_same_action(app, login_as):
    ids = make_family(app, enrolled_on=TODAY - timedelta(days=200))
    client = login_as("team-a")
    page = client.get(f"/families/{ids['family']}/close")
    token = csrf_token(page.get_data(as_text=True))
    refused = client.post(f"/families/{ids['family']}/close", data={"csrf_token": token,
                                                                     "closed_on": TODAY.isoformat()})
    assert refused.status_code == 400
    assert "skal lukkes i samme handling" in refused.get_data(as_text=True)
    with get_db(app).session() as s:
        assert s.get(Family, ids["family"]).status == "open"
        assert all(p.status == "open" for p in s.get(Family, ids["family"]).persons)
    closed = client.post(f"/families/{ids['family']}/close", data={
        "csrf_token": token, "closed_on": TODAY.isoformat(), "close_persons": "y"})
    assert closed.status_code == 303
    with get_db(app).session() as s:
        family = s.get(Family, ids["family"])
        assert (family.status, family.closed_on) == ("closed", TODAY)
        assert {(p.status, p.closed_on) for p in family.persons} == {("closed", TODAY)}
        kinds = [w.kind for w in sorted(family.waves, key=lambda w: w.number)]
        assert kinds[-1] == "closing" and kinds.count("closing") == 1
        # The progress wave that would have fallen after closing is gone (it held no answers).
        assert all(w.due_on < TODAY for w in family.waves if w.kind == "progress")
    html = family_html(client, ids["family"])
    closing = wave_section(html, "Afsluttende måling")
    assert "who5" in planned(closing) and "progress_child" in planned(closing)
    assert "background_child" not in planned(closing)
    audit = _events(app, "change", "family")
    assert audit and audit[-1].detail["closed"] is True


def test_only_the_closing_measurement_after_closing_and_never_before_enrolment(app, demo):
    ids = make_family(app, enrolled_on=TODAY - timedelta(days=40))
    with get_db(app).session() as s:
        user = s.scalars(select(User).where(User.username == "team-a")).one()
        person = s.get(Person, ids["Stor"])
        baseline = _baseline(s, ids, app)
        with pytest.raises(MeasurementRefused, match="not enrolled yet"):
            check_can_measure(s, user, person, baseline, on=TODAY - timedelta(days=41))
        closing = close_family(s, s.get(Family, ids["family"]), TODAY - timedelta(days=1), close_persons=True)
    with get_db(app).session() as s:
        person = s.get(Person, ids["Stor"])
        with pytest.raises(MeasurementRefused, match="only the closing"):
            check_can_measure(s, user, person, s.get(Wave, baseline.id))
        check_can_measure(s, user, person, s.get(Wave, closing.id))
        # Closing measurement counts until the end of its tolerance window (4 weeks), not after.
        with pytest.raises(MeasurementRefused, match="was due by"):
            check_can_measure(s, user, person, s.get(Wave, closing.id), on=TODAY + timedelta(weeks=4))


def test_a_family_without_a_child_cannot_be_closed(app, demo):
    ids = make_family(app, persons=[("parent", "Far", years_ago(50))])
    with get_db(app).session() as s:
        with pytest.raises(IntegrityRefused, match="without a child"):
            close_family(s, s.get(Family, ids["family"]), TODAY, close_persons=True)
        with pytest.raises(IntegrityRefused, match="before the enrolment"):
            close_family(s, s.get(Family, ids["family"]), TODAY - timedelta(days=30), close_persons=True)


def test_a_measurement_round_of_another_family_is_refused(app, demo):
    first = make_family(app, case_ref="T-1")
    second = make_family(app, case_ref="T-2", enabled=())
    with get_db(app).session() as s:
        user = s.scalars(select(User).where(User.username == "team-a")).one()
        wave_of_second = _baseline(s, second, app)
        with pytest.raises(MeasurementRefused, match="another family"):
            check_can_measure(s, user, s.get(Person, first["Stor"]), wave_of_second)


def test_register_family_and_person_with_audit_and_no_cpr_unless_enabled(app, login_as):
    client = login_as("team-a")
    page = client.get("/families/new")
    created = client.post("/families/new", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                  "case_ref": "SAG-77", "enrolled_on": TODAY.isoformat()})
    assert created.status_code == 303
    family_id = int(created.headers["Location"].rstrip("/").split("/")[-1])
    duplicate = client.post("/families/new", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                    "case_ref": "SAG-77", "enrolled_on": TODAY.isoformat()})
    assert duplicate.status_code == 400 and "allerede i brug" in duplicate.get_data(as_text=True)
    form = client.get(f"/families/{family_id}/persons/new").get_data(as_text=True)
    assert 'name="cpr"' not in form
    data = {"csrf_token": csrf_token(form), "role": "child", "name": "Ida", "birth_date": "2014-03-02",
            "sex": "female", "cpr": "0203141234"}
    refused = client.post(f"/families/{family_id}/persons/new", data=data)
    assert refused.status_code == 400 and "CPR" in refused.get_data(as_text=True)
    data.pop("cpr")
    added = client.post(f"/families/{family_id}/persons/new", data=data)
    assert added.status_code == 303 and "/consent" in added.headers["Location"]
    with get_db(app).session() as s:
        person = s.scalars(select(Person).where(Person.family_id == family_id)).one()
        assert (person.name, person.birth_date, person.cpr) == ("Ida", date(2014, 3, 2), None)
    events = _events(app, "create", "person")
    assert events and "Ida" not in str(events[-1].detail)
    client.get(f"/families/{family_id}")
    assert _events(app, "view", "family")[-1].entity_id == str(family_id)


def test_cpr_is_stored_only_when_the_municipality_turns_it_on(app, login_as):
    ids = make_family(app, persons=[])
    with get_db(app).session() as s:
        s.get(Municipality, ids["municipality"]).cpr_enabled = True
    client = login_as("team-a")
    form = client.get(f"/families/{ids['family']}/persons/new").get_data(as_text=True)
    assert 'name="cpr"' in form
    added = client.post(f"/families/{ids['family']}/persons/new", data={
        "csrf_token": csrf_token(form), "role": "parent", "name": "P", "birth_date": "1980-01-01",
        "sex": "male", "cpr": "010180-1234"})
    assert added.status_code == 303
    with get_db(app).session() as s:
        assert s.scalars(select(Person.cpr).where(Person.family_id == ids["family"])).one() == "0101801234"
    assert all("0101801234" not in str(e.detail) for e in _events(app))


def test_the_due_list_groups_due_overdue_and_coming_up(app, login_as):
    due_now = make_family(app, case_ref="NU-1", enrolled_on=TODAY - timedelta(days=2))
    overdue = make_family(app, case_ref="SEN-1", enrolled_on=TODAY - timedelta(days=7 * 5))
    client = login_as("team-a")
    html = client.get("/due").get_data(as_text=True)
    overdue_part = html[html.index('id="h-overdue"'):html.index('id="h-due"')]
    due_part = html[html.index('id="h-due"'):html.index('id="h-upcoming"')]
    assert "SEN-1" in overdue_part and "NU-1" not in overdue_part
    assert "NU-1" in due_part and "SEN-1" not in due_part
    assert f"/persons/{due_now['Stor']}/measure" in due_part
    assert f"/persons/{overdue['Stor']}/measure" in overdue_part


def test_disabling_an_instrument_changes_the_plan_but_keeps_answers(app, login_as):
    ids = make_family(app)
    registry = get_registry(app)
    with get_db(app).session() as s:
        wave = _baseline(s, ids, app)
        submit_new_response(s, registry.get("background_child"), {"bc_sex": 1},
                            municipality_id=ids["municipality"], entered_by=None, wording={},
                            person_id=ids["Lille"], about_person_id=ids["Lille"], wave_id=wave.id)
    client = login_as("admin-a")
    page = client.get("/admin/instruments").get_data(as_text=True)
    disabled = client.post("/admin/instruments/progress_child/disable", data={"csrf_token": csrf_token(page)})
    assert disabled.status_code == 303
    client.post("/admin/instruments/background_child/disable", data={"csrf_token": csrf_token(page)})
    html = family_html(client, ids["family"])
    assert "progress_child" not in planned(html) and "background_child" not in planned(html)
    assert "progress_parent" in planned(html)
    # The answer already given stays, shown as done though no longer on the plan.
    assert "ikke længere på planen" in html
    with get_db(app).session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 1


def _events(app, action=None, entity=None):
    with get_db(app).session() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        if entity:
            stmt = stmt.where(AuditEvent.entity == entity)
        return list(s.scalars(stmt))


def test_through_the_tablet_form_a_submitted_measurement_is_done_on_the_plan(app, login_as):
    """Start from the plan, answer in the form engine's stepper, submit, and see it done."""
    ids = make_family(app)
    client = login_as("team-a")
    form = next(f for f in start_forms(family_html(client, ids["family"])) if f["instrument_id"] == "who5")
    started = client.post(form["action"], data={**{k: v for k, v in form.items() if k != "action"},
                                                "mode": "in_person"})
    location = started.headers["Location"]
    assert re.search(r"/fill/[0-9a-f-]{36}$", location)
    uuid = location.rsplit("/", 1)[-1]
    token = csrf_token(client.get(location).get_data(as_text=True))
    for n in range(1, 6):
        with get_db(app).session() as s:
            version = s.scalars(select(Response.version).where(Response.uuid == uuid)).one()
        saved = client.post(f"/fill/{uuid}/save", data={"csrf_token": token, "page": f"who5_{n}",
                                                        "version": version, f"who5_{n}": "4", "go": "next"})
        assert saved.status_code in (200, 303), saved.get_data(as_text=True)[:300]
    with get_db(app).session() as s:
        version = s.scalars(select(Response.version).where(Response.uuid == uuid)).one()
    submitted = client.post(f"/fill/{uuid}/submit", data={"csrf_token": token, "version": version})
    assert submitted.status_code == 303, submitted.get_data(as_text=True)[:500]
    with get_db(app).session() as s:
        response = s.scalars(select(Response).where(Response.uuid == uuid)).one()
        assert response.status == "submitted" and response.current_score.scores["percent"] == 80
    html = family_html(client, ids["family"])
    assert "who5" not in planned(html) and f"/responses/{uuid}" in html
    row = re.search(rf'<tr class="status-done">(?:(?!</tr>).)*/responses/{uuid}.*?</tr>', html, re.S).group(0)
    assert "Udført" in row and "Næste: " + add_months(TODAY - timedelta(days=3), 6).isoformat() in row


def test_the_municipalitys_own_form_is_on_the_due_list_and_belongs_to_no_person(app, login_as):
    make_family(app, enabled=ENABLED + ("fidelity",))
    client = login_as("team-a")
    html = client.get("/due").get_data(as_text=True)
    assert "Kommunens egne skemaer" in html
    action = re.search(r'action="(/rounds/\d+/measure)"', html).group(1)
    started = client.post(action, data={"csrf_token": csrf_token(html), "instrument_id": "fidelity",
                                        "wave_id": action.split("/")[2], "mode": "in_person"})
    assert started.status_code == 303
    with get_db(app).session() as s:
        draft = s.scalars(select(Response).where(Response.instrument_id == "fidelity")).one()
        assert draft.person_id is None and draft.about_person_id is None and draft.wave_id is not None
        assert s.get(Wave, draft.wave_id).family_id is None


def test_application_logs_carry_no_personal_data(app, login_as, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    ids = make_family(app)
    client = login_as("team-a")
    html = family_html(client, ids["family"])
    form = start_forms(html)[0]
    client.post(form["action"], data={**{k: v for k, v in form.items() if k != "action"}, "mode": "phone"})
    client.post(f"/families/{ids['family']}/close", data={"csrf_token": csrf_token(html),
                                                          "closed_on": TODAY.isoformat()})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Mor", "Lille", "Mellem", "Stor", "T-1", "demo"):
        assert not re.search(rf"\b{secret}\b", logged), secret


def test_correcting_a_birth_date_changes_the_plan_and_audits_only_field_names(app, login_as):
    ids = make_family(app)
    client = login_as("team-a")
    page = client.get(f"/persons/{ids['Lille']}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="Lille"' in html
    changed = client.post(f"/persons/{ids['Lille']}/edit", data={
        "csrf_token": csrf_token(html), "role": "youth", "name": "Lille", "sex": "female",
        "birth_date": years_ago(19).isoformat()})
    assert changed.status_code == 303
    forms = start_forms(family_html(client, ids["family"]))
    lille = f"/persons/{ids['Lille']}/measure"
    assert any(f["action"] == lille and f["instrument_id"] == "who5" for f in forms)
    event = _events(app, "change", "person")[-1]
    assert event.detail == {"fields": ["birth_date", "role", "sex"]}
    bad = client.post(f"/persons/{ids['Lille']}/edit", data={
        "csrf_token": csrf_token(html), "role": "pet", "name": "Lille", "sex": "female",
        "birth_date": years_ago(19).isoformat()})
    assert bad.status_code == 400
    with get_db(app).session() as s:
        assert s.get(Person, ids["Lille"]).role == "youth"


def test_a_closing_measurement_past_its_window_is_missed_not_offered(app, login_as):
    ids = make_family(app, enrolled_on=TODAY - timedelta(days=300))
    with get_db(app).session() as s:
        close_family(s, s.get(Family, ids["family"]), TODAY - timedelta(weeks=5), close_persons=True)
    client = login_as("team-a")
    html = family_html(client, ids["family"])
    assert "Afsluttende måling — Ikke nået" in html
    assert planned(wave_section(html, "Afsluttende måling")) == set()
    assert f"/families/{ids['family']}\"" not in client.get("/due").get_data(as_text=True)
