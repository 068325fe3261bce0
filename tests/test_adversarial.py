"""Every route that accepts answers, attacked with random and malformed payloads.

Hypothesis posts what a hostile or broken client would send — nested JSON,
huge and unicode numbers, control characters, unknown items, codes that are
almost right (``1.0``, ``1e0``, ``true``), repeatable-group operations with
impossible indexes and counts — to the stepper's save and submit, the
whole-form page, import and ``formengine score``. The promises: never a 5xx
(nor a traceback), and a refused request leaves every row of every table
exactly as it was. An accepted save may only store answers the codec accepts.
Runs on SQLite and, with FORMENGINE_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from formengine.db import get_db
from formengine.imports import ImportFailed, import_responses
from formengine.instruments import codec_for
from formengine.models import Base, Response, User
from formengine.registry import get_registry
from formengine.responses import start_draft
from tests.browser.kitchen import PLUGINS
from tests.conftest import csrf_token, load_demo_into, login

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# -- what an attacker sends ---------------------------------------------------------------

NESTED = "[" * 1000 + "1" + "]" * 1000
JUNK_TEXT = st.sampled_from([
    "1.0", "1e0", "0.0", "-0", "true", "null", "[]", "{}", '"1"', NESTED, "²", "①", "١", "9" * 5000,
    "2" + "0" * 40, "-1", "3,5", "1.000,5", "NaN", "inf", "a\x00b", "a\x0bb", "\x1b[2J", "line\nbreak",
    "\ud800", "x" * 3000, "", " ", "ja", "nej", "2026-02-31", "２０２６-01-01", "<script>", "=SUM(A1)",
])


def _sendable(value: str) -> bool:
    """A lone surrogate cannot travel in an HTTP form (the client cannot encode it); JSON can carry it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


VALUE = st.one_of(JUNK_TEXT, st.integers(-3, 30).map(str), st.text(max_size=12)).filter(_sendable)
KITCHEN_FIELDS = ["mood", "worry", "worry_often", "note", "hours", "short_sleep", "seen_on", "stars",
                  "helpers__count", "helpers__0__helper_name", "helpers__0__helper_visits",
                  "helpers__1__helper_visits", "helpers__7__helper_name", "ghost", "mood__count",
                  "helpers", "helpers__x__helper_name", "who5_1"]
GO = st.one_of(st.sampled_from(["next", "back", "stay", "review", "add:helpers", "add:helpers:x",
                                "remove:helpers:0", "remove:helpers:1", "remove:helpers:7",
                                "remove:helpers:²", "remove:helpers:①", "remove:helpers:" + "9" * 5000,
                                "remove:helpers:-1", "remove:helpers", "add:mood", "add:ghost", "explode",
                                "add:", ":::"]), st.text(max_size=10).filter(_sendable))
PAGES = ["p_mood", "p_worry", "p_worry_often", "p_facts", "p_helpers", "p_stars", "ghost", "", "²"]


@st.composite
def save_posts(draw):
    fields = draw(st.dictionaries(st.sampled_from(KITCHEN_FIELDS), VALUE, max_size=6))
    post = {"page": draw(st.sampled_from(PAGES)), "go": draw(GO), **fields}
    if draw(st.booleans()):
        post["decline"] = draw(st.sampled_from(["mood", "note", "worry", "ghost", "", "²"]))
    post["version"] = draw(st.sampled_from(["current", "current", "current", "0", "-1", "²", "9" * 30, ""]))
    return post


def json_values():
    leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                     st.floats(allow_nan=True, allow_infinity=True), JUNK_TEXT)
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(["helper_name", "x", "who5_1"]), inner, max_size=3),
                        max_leaves=8)


# -- the database, row by row -------------------------------------------------------------

def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, as tuples in primary-key order."""
    rows = {}
    with get_db(app).engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
    return rows


@pytest.fixture
def app(make_app):
    app = make_app(EXTRA_PLUGINS=PLUGINS)
    load_demo_into(app)
    return app


@pytest.fixture
def team(app):
    client = app.test_client()
    assert login(client, "team-a").status_code == 302
    client.token = csrf_token(client.get("/account/pin").get_data(as_text=True))
    return client


def new_draft(app, instrument_id: str) -> str:
    with get_db(app).session() as session:
        user = session.scalar(select(User).where(User.username == "team-a"))
        draft = start_draft(session, get_registry(app).get(instrument_id),
                            municipality_id=user.municipality_id, entered_by=user.id,
                            wording={"kind": "project_labels"})
        session.commit()
        return draft.uuid


def current_version(app, uuid: str) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(Response.version).where(Response.uuid == uuid))


def check(app, before, reply) -> None:
    assert reply.status_code < 500, reply.get_data(as_text=True)[:500]
    if reply.status_code >= 400:
        assert snapshot(app) == before, f"a refused request ({reply.status_code}) changed stored rows"


# -- the routes --------------------------------------------------------------------------

def test_the_stepper_save_never_fails_and_a_refusal_changes_nothing(app, team):
    uuid = new_draft(app, "kitchen")
    definition = get_registry(app).get("kitchen").definition
    outcomes = set()

    @SETTINGS
    @given(post=save_posts(), htmx=st.booleans())
    def attack(post, htmx):
        if post["version"] == "current":
            post["version"] = str(current_version(app, uuid))
        before = snapshot(app)
        reply = team.post(f"/fill/{uuid}/save", data={"csrf_token": team.token, **post},
                          headers={"HX-Request": "true"} if htmx else {})
        check(app, before, reply)
        outcomes.add(reply.status_code // 100)
        with get_db(app).session() as session:
            answers = session.scalar(select(Response.answers).where(Response.uuid == uuid))
        codec_for(definition).read_json(answers)  # whatever was accepted is a valid answer set

    attack()
    assert outcomes >= {4}, outcomes


def test_group_operations_are_checked_before_anything_is_written(app, team):
    uuid = new_draft(app, "kitchen")
    html = team.get(f"/fill/{uuid}?page=p_helpers").get_data(as_text=True)
    assert 'name="helpers__count"' in html

    def post(data):
        version = str(current_version(app, uuid))
        return team.post(f"/fill/{uuid}/save",
                         data={"csrf_token": team.token, "version": version, "page": "p_helpers", **data})

    assert post({"helpers__count": "0", "go": "add:helpers"}).status_code == 303
    first = {"helpers__count": "1", "helpers__0__helper_name": "Mormor", "go": "add:helpers"}
    assert post(first).status_code == 303
    before = snapshot(app)
    for bad in [{"go": "remove:helpers:2"}, {"go": "remove:helpers:²"}, {"go": "add:helpers:x"},
                {"helpers__count": "-1"}, {"helpers__count": "4", "go": "stay"},
                {"helpers__count": "9" * 5000}, {"go": "remove:helpers:" + "9" * 5000}]:
        data = {"helpers__count": "2", "helpers__0__helper_name": "Mormor", "go": "stay", **bad}
        reply = post(data)
        assert reply.status_code in (400, 422), (bad, reply.status_code)
        assert snapshot(app) == before, bad
    with get_db(app).session() as session:
        answers = session.scalar(select(Response.answers).where(Response.uuid == uuid))
    assert answers["helpers"] == [{"helper_name": "Mormor"}, {}]


def test_a_refusal_names_the_question_in_the_respondents_language(app, team):
    uuid = new_draft(app, "kitchen")
    data = {"csrf_token": team.token, "version": str(current_version(app, uuid)), "page": "p_facts",
            "note": "a\x0bb", "hours": "①", "go": "next"}
    page = team.post(f"/fill/{uuid}/save", data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "En kort bemærkning: teksten indeholder et tegn, der ikke er tilladt (U+000B)" in html
    assert "Timers søvn: &#34;①&#34; er ikke et tal" in html
    fragment = team.post(f"/fill/{uuid}/save", data=data, headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and fragment.mimetype == "text/plain"
    assert "Timers søvn" in fragment.get_data(as_text=True)
    unknown = team.post(f"/fill/{uuid}/save", data={**data, "note": "ok", "hours": "7", "ghost": "1"})
    assert unknown.status_code == 422 and "ukendt spørgsmål: ghost" in unknown.get_data(as_text=True)


def test_submit_and_language_never_fail(app, team):
    uuid = new_draft(app, "kitchen")

    @SETTINGS
    @given(version=VALUE, lang=VALUE)
    def attack(version, lang):
        before = snapshot(app)
        reply = team.post(f"/fill/{uuid}/submit", data={"csrf_token": team.token, "version": version})
        check(app, before, reply)
        before = snapshot(app)
        check(app, before, team.post(f"/fill/{uuid}/language",
                                     data={"csrf_token": team.token, "lang": lang, "page": version}))

    attack()


def test_the_whole_form_page_never_fails_and_a_refusal_changes_nothing(app, team):
    fields = [f"who5_{n}" for n in range(1, 6)] + ["ghost", "who5_9"]

    @SETTINGS
    @given(st.dictionaries(st.sampled_from(fields), VALUE, max_size=7))
    def attack(data):
        before = snapshot(app)
        check(app, before, team.post("/instruments/who5", data={"csrf_token": team.token, **data}))

    attack()


def test_import_refuses_every_bad_line_and_writes_nothing(app):
    registry = get_registry(app)
    base = {"municipality": "Demo Kommune A", "family": "ADV-1", "person": "p1", "role": "parent",
            "birth_date": "1990-01-01", "wave": 1, "instrument": "who5", "mode": "paper",
            "submitted_at": "2026-01-05"}

    @SETTINGS
    @given(st.dictionaries(st.sampled_from(["who5_1", "who5_2", "who5_5", "ghost"]), json_values(),
                           min_size=1, max_size=4), st.sampled_from(["jsonl", "csv"]))
    def attack(answers, form):
        before = snapshot(app)
        with get_db(app).session() as session:
            if form == "jsonl":
                records = [(1, {**base, "answers": answers})]
            else:
                from formengine.imports import read_csv

                cells = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in answers.items()}
                header = list(base) + list(cells)
                row = [str(base[k]) for k in base] + [cells[k].replace(";", ",") for k in cells]
                quoted = ['"' + c.replace('"', '""') + '"' for c in row]
                text_ = ";".join(header) + "\n" + ";".join(quoted) + "\n"
                records = read_csv(text_, registry)
            try:
                import_responses(session, registry, records)
                session.rollback()  # an accepted line is not the point here; keep the database as it was
            except ImportFailed as exc:
                session.rollback()
                assert all(number >= 0 and reason for number, reason in exc.problems)
        assert snapshot(app) == before

    attack()


def test_score_command_answers_every_bad_file_with_one_line(app, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "answers.json"

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.dictionaries(st.sampled_from(["who5_1", "who5_2", "ghost"]), json_values(),
                                     max_size=3), json_values()))
    def attack(answers):
        path.write_text(json.dumps(answers), "utf-8")
        result = runner.invoke(args=["score", "who5", str(path)])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        if result.exit_code != 0:
            assert "Traceback" not in result.output

    attack()
    path.write_text(NESTED * 100, "utf-8")
    result = runner.invoke(args=["score", "who5", str(path)])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)


def test_the_snapshot_sees_a_change(app):
    """The byte-for-byte check is only worth something if it notices a single changed value."""
    uuid = new_draft(app, "kitchen")
    before = snapshot(app)
    with get_db(app).engine.begin() as conn:
        conn.execute(text("UPDATE response SET version = version + 1 WHERE uuid = :u"), {"u": uuid})
    assert snapshot(app) != before
