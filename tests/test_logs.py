"""No personal data, answers or secrets in any log line, whatever fails.

Every error class the application answers with (400, 401, 403, 404, 405,
409, 429, 500, a failed download) is provoked with a family's name, birth
date, a free-text answer and a password hash in the request or in the
failure itself (a failed statement with a NUL byte on PostgreSQL too),
with every logger at DEBUG (SQLAlchemy's statement log included). The
captured log must hold none of them, and a 500 page's error number must be
findable in the log.
"""

from __future__ import annotations

import logging
import re
from datetime import date

import pytest
from sqlalchemy import insert, select

from formengine.db import db_session, get_db
from formengine.demo import load_demo
from formengine.models import Family, Person, User
from formengine.registry import get_registry
from tests.conftest import csrf_token, login

NAME = "Zelda Quixbury-Nakamura"
BIRTH = date(2011, 7, 19)
ANSWER = "Morbror truer ham i weekenderne"
CASE = "SECRET-CASE-4711"


@pytest.fixture
def app_with_faults(make_app):
    """The demo app, one family with a distinctive person, and two routes that fail with values."""
    app = make_app()

    @app.route("/_test/crash")
    def crash():
        raise ValueError(f"cannot handle {NAME} born {BIRTH.isoformat()} who said {ANSWER!r}")

    @app.route("/_test/database-crash")
    def database_crash():
        # A real failed statement carrying personal data: a person in a family that does not exist,
        # with a NUL byte in the name (PostgreSQL refuses that before it checks the family).
        db_session().execute(insert(Person).values(family_id=987654, municipality_id=987654, role="child",
                                                   name=NAME + "\x00", birth_date=BIRTH))
        db_session().commit()
        return "not reached"

    with get_db(app).session() as s:
        load_demo(s, get_registry(app))
        team = s.scalars(select(User).where(User.username == "team-a")).one()
        family = Family(municipality_id=team.municipality_id, case_ref=CASE, enrolled_on=date(2026, 1, 5))
        s.add(family)
        s.flush()
        s.add(Person(family_id=family.id, municipality_id=team.municipality_id, role="child", name=NAME,
                     birth_date=BIRTH))
    return app


def secrets_in(app) -> list[str]:
    with get_db(app).session() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    return [NAME, "Quixbury", BIRTH.isoformat(), "19-07-2011", "19.07.2011", ANSWER, "Morbror", CASE,
            *hashes, "$argon2"]


def test_provoking_every_error_leaves_no_personal_data_in_the_log(app_with_faults, caplog):
    app = app_with_faults
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement, as echo=True would
    statuses = set()
    with get_db(app).session() as s:
        person_id = s.scalar(select(Person.id).where(Person.name == NAME))
        family_id = s.scalar(select(Person.family_id).where(Person.id == person_id))
        hash_a = s.scalar(select(User.password_hash).where(User.username == "team-a"))

    # 401 and 429: wrong passwords (a hash typed as the password, a name as the username).
    anonymous = app.test_client()
    for _ in range(5):
        statuses.add(login(anonymous, NAME, hash_a).status_code)
    statuses.add(login(anonymous, NAME, ANSWER).status_code)

    team = app.test_client()
    assert login(team, "team-a").status_code == 302
    token = csrf_token(team.get("/due").get_data(as_text=True))
    person_form = {"role": "child", "name": NAME, "birth_date": BIRTH.isoformat(), "sex": "female"}

    # 400: no CSRF token; a NUL byte; an answer the codec refuses.
    statuses.add(team.post(f"/persons/{person_id}/edit", data=person_form).status_code)
    statuses.add(team.post(f"/persons/{person_id}/edit",
                           data={**person_form, "name": NAME + "\x00", "csrf_token": token}).status_code)
    started = team.post("/fill/start/ics_worksheet", data={"csrf_token": token})
    uuid = started.headers["Location"].rsplit("/", 1)[-1]
    too_long = ANSWER * 200
    refused = team.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": "1", "page": "health",
                                                    "health_resources": too_long, "go": "stay"})
    statuses.add(refused.status_code)
    # 200 then 409: a save, then a save on the stale version.
    ok = team.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": "1", "page": "health",
                                               "health_resources": ANSWER, "go": "stay"})
    assert ok.status_code in (200, 303)
    statuses.add(team.post(f"/fill/{uuid}/save", data={"csrf_token": token, "version": "1", "page": "health",
                                                       "health_resources": ANSWER + "!", "go": "stay"}
                           ).status_code)
    # 403, 404, 405.
    statuses.add(team.get("/admin/users", query_string={"name": NAME}).status_code)
    statuses.add(team.get(f"/families/{family_id + 1000}", query_string={"q": NAME}).status_code)
    statuses.add(team.get("/logout", query_string={"birth": BIRTH.isoformat()}).status_code)
    # 500: an unexpected error quoting personal data, and a failed statement with it as parameters.
    crashed = team.get("/_test/crash", query_string={"name": NAME})
    statuses.add(crashed.status_code)
    statuses.add(team.get("/_test/database-crash").status_code)
    # A failed download: the stream breaks part-way with personal data in the error.
    admin = app.test_client()
    login(admin, "admin-a")
    from formengine.exports import service
    from formengine.web.errors import StreamAborted

    original = service.build_export

    def breaking_export(*args, **kwargs):
        export = original(*args, **kwargs)

        def chunks():
            yield "header\n"
            raise UnicodeError(f"cannot encode {ANSWER} for {NAME}")

        export.chunks = chunks()
        return export

    import formengine.web.exports as export_views

    export_views.build_export = breaking_export
    try:
        admin_token = csrf_token(admin.get("/exports/").get_data(as_text=True))
        download = admin.post("/exports/download", data={"csrf_token": admin_token, "instrument": "who5",
                                                         "layout": "long", "format": "csv"})
        with pytest.raises(StreamAborted):
            download.get_data()
    finally:
        export_views.build_export = original

    assert {400, 401, 403, 404, 405, 409, 429, 500} <= statuses, statuses
    log_text = caplog.text
    assert "SELECT" in log_text or "INSERT" in log_text, "the statement log was not captured"
    leaked = [value for value in secrets_in(app) if value in log_text]
    assert leaked == [], f"personal data or secrets in the log: {leaked}"
    # The error page gives a number that finds the log line (route and error class, no values).
    number = re.search(r'class="error-id">([0-9a-f]{12})<', crashed.get_data(as_text=True)).group(1)
    line = next(r.getMessage() for r in caplog.records if number in r.getMessage())
    assert "/_test/crash" in line and "ValueError" in line


def test_the_nul_guard_refuses_with_a_clear_message_and_changes_nothing(app_with_faults):
    app = app_with_faults
    with get_db(app).session() as s:
        person_id = s.scalar(select(Person.id).where(Person.name == NAME))
    team = app.test_client()
    login(team, "team-a")
    token = csrf_token(team.get("/due").get_data(as_text=True))
    response = team.post(f"/persons/{person_id}/edit", data={
        "csrf_token": token, "role": "child", "name": "Other\x00Name", "birth_date": "2011-07-20",
        "sex": "female"})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)
    with get_db(app).session() as s:
        assert s.get(Person, person_id).name == NAME
