"""`formengine import-responses`: paper and phone answers scored like any other; bad files change nothing."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select

from formengine.cli import main
from formengine.db import get_db
from formengine.imports import ImportFailed, import_responses, read_csv, read_jsonl
from formengine.models import Family, Municipality, Person, Response, Wave
from formengine.registry import get_registry
from tests.test_reports import who5_answers


def _line(**overrides):
    line = {
        "municipality": "Import Kommune", "family": "SAG-1", "person": "mor", "role": "parent",
        "birth_date": "1984-02-03", "sex": "female", "wave": 1, "instrument": "who5",
        "answers": who5_answers(40), "mode": "paper", "submitted_at": "2024-02-01T10:00:00+01:00",
    }
    line.update(overrides)
    return line


def _write(tmp_path, lines, name="answers.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n", "utf-8")
    return path


def _count(app, model):
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_import_creates_families_persons_waves_and_scores(app, tmp_path):
    lines = [
        _line(),
        _line(wave=2, answers=who5_answers(60), submitted_at="2024-08-01"),
        _line(wave="closing", answers=who5_answers(72), mode="phone", submitted_at="2025-02-01T09:00:00Z"),
        _line(person="far", sex=None, birth_date="1980-01-01", answers=who5_answers(20)),
    ]
    del lines[3]["sex"]
    path = _write(tmp_path, lines)
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["import-responses", str(path), "--create-municipalities"])
    assert result.exit_code == 0, result.output
    assert "Imported 4 response(s)" in result.output
    with get_db(app).session() as session:
        family = session.scalar(select(Family).where(Family.case_ref == "SAG-1"))
        assert family.enrolled_on == date(2024, 2, 1)
        waves = {w.number: w.kind for w in session.scalars(select(Wave).where(Wave.family_id == family.id))}
        assert waves == {1: "baseline", 2: "progress", 3: "closing"}
        mother = session.scalar(select(Person).where(Person.name == "mor"))
        assert (mother.role, mother.birth_date, mother.sex) == ("parent", date(1984, 2, 3), "female")
        father = session.scalar(select(Person).where(Person.name == "far"))
        assert father.sex == "not_stated"
        responses = list(session.scalars(select(Response).where(Response.person_id == mother.id)
                                         .order_by(Response.submitted_at)))
        assert [r.current_score.scores["percent"] for r in responses] == [40, 60, 72]
        assert [r.mode for r in responses] == ["paper", "paper", "phone"]
        assert responses[0].submitted_at.isoformat() == "2024-02-01T09:00:00+00:00"
        assert responses[1].current_score.bands["percent"] == "good_wellbeing"

    # importing the same file again adds nothing
    again = runner.invoke(main, ["import-responses", str(path)])
    assert again.exit_code == 0, again.output
    assert "Imported 0 response(s) (4 already present" in again.output
    assert _count(app, Response) == 4

    # the progression report sees the imported answers
    report = runner.invoke(main, ["report", "progression", "who5", "percent", "--from", "first", "--to",
                                  "closing", "--json"])
    assert json.loads(report.output)["n_paired"] == 1
    assert json.loads(report.output)["mean_change"] == 32


def test_one_bad_line_imports_nothing_and_names_every_bad_line(app, tmp_path):
    with get_db(app).session() as session:
        session.add(Municipality(name="Import Kommune", pseudonym_key="k"))
    lines = [
        _line(),
        _line(person="barn", answers={"who5_1": 9}),
        "{not json",
        _line(person="x", role="aunt", wave=0, mode="fax"),
        _line(person="y", municipality="Ukendt Kommune"),
        _line(person="z", submitted_at="2024-02-01T10:00:00"),
        _line(person="mor", role="youth", wave=2),
        _line(person="w", instrument="nope"),
    ]
    path = _write(tmp_path, lines)
    result = app.test_cli_runner().invoke(main, ["import-responses", str(path)])
    assert result.exit_code != 0
    out = result.output
    assert "nothing was imported" in out
    assert "line 1:" not in out
    assert "line 2: who5: who5_1: 9 is not a code of this item" in out
    assert "line 3: not valid JSON" in out
    assert "line 4:" in out and "role 'aunt'" in out and "mode 'fax'" in out and "wave 0" in out
    assert "line 5: unknown municipality 'Ukendt Kommune' (use --create-municipalities" in out
    assert "line 6: submitted_at '2024-02-01T10:00:00' has no UTC offset" in out
    assert "line 7: person 'mor' has role 'parent' on line 1 but 'youth' here" in out
    assert "line 8: unknown instrument 'nope'" in out
    assert _count(app, Response) == 0 and _count(app, Family) == 0 and _count(app, Person) == 0


def test_import_refuses_a_person_stored_with_another_role(app):
    registry = get_registry(app)
    with get_db(app).session() as session:
        import_responses(session, registry, read_jsonl(json.dumps(_line())), create_municipalities=True)
    with get_db(app).session() as session:
        try:
            import_responses(session, registry, read_jsonl(json.dumps(_line(role="other", wave=2))))
        except ImportFailed as exc:
            assert exc.problems == [(1, "person 'mor' is stored with role 'parent'")]
        else:
            raise AssertionError("expected ImportFailed")
    assert _count(app, Response) == 1


def test_import_from_csv_in_the_long_layout(app, tmp_path):
    header = ("response_id;municipality;family;person;about;role;sex;birth_date;wave;wave_kind;instrument;"
              "instrument_version;mode;submitted_at;who5_1;who5_2;who5_3;who5_4;who5_5;score_percent;"
              "band_percent")
    rows = [
        "r1;CSV Kommune;S-9;ung;;youth;male;2005-06-01;1;baseline;who5;1.0.0;paper;2024-03-01;1;2;3;2;2;40;x",
        "r2;CSV Kommune;S-9;ung;;youth;male;2005-06-01;2;closing;who5;1.0.0;phone;2024-09-01;3;3;3;-8;3;;",
    ]
    path = tmp_path / "answers.csv"
    path.write_text("\ufeff" + header + "\n" + "\n".join(rows) + "\n", "utf-8")
    result = app.test_cli_runner().invoke(main, ["import-responses", str(path), "--create-municipalities"])
    assert result.exit_code == 0, result.output
    with get_db(app).session() as session:
        responses = list(session.scalars(select(Response).order_by(Response.submitted_at)))
        assert responses[0].current_score.scores["percent"] == 40  # recomputed, not read from the file
        assert responses[1].declined == ["who5_4"] and not responses[1].current_score.valid
        assert session.scalar(select(Wave.kind).where(Wave.id == responses[1].wave_id)) == "closing"

    bad = "\n".join([header, "r3;CSV Kommune;S-9;ung;;youth;male;2005-06-01;1;baseline;who5;1.0.0;paper;"
                     "2024-03-01;1;2;3;2;7;;"])
    lines = read_csv(bad, get_registry(app))
    try:
        with get_db(app).session() as session:
            import_responses(session, get_registry(app), lines)
    except ImportFailed as exc:
        assert exc.problems[0][0] == 2 and 'who5_5: "7" is not a code' in exc.problems[0][1]
    else:
        raise AssertionError("expected ImportFailed")


def test_about_must_name_a_person_of_the_family(app):
    registry = get_registry(app)
    line = _line(about="ukendt")
    try:
        with get_db(app).session() as session:
            import_responses(session, registry, read_jsonl(json.dumps(line)), create_municipalities=True)
    except ImportFailed as exc:
        assert exc.problems == [(1, "about 'ukendt' is not a person of family 'SAG-1'")]
    else:
        raise AssertionError("expected ImportFailed")
    ok = [_line(person="barn", role="child", birth_date="2012-01-01"), _line(about="barn")]
    with get_db(app).session() as session:
        summary = import_responses(session, registry, read_jsonl("\n".join(json.dumps(x) for x in ok)),
                                   create_municipalities=True)
    assert summary.responses == 2 and summary.persons == 2
    with get_db(app).session() as session:
        about = session.scalar(select(Response.about_person_id).where(Response.about_person_id.is_not(None)))
        assert session.get(Person, about).name == "barn"


SDQ_ITEMS = ["consid", "restles", "somatic", "shares", "tantrum", "loner", "obeys", "worries", "caring",
             "fidgety", "friend", "fights", "unhappy", "popular", "distrac", "clingy", "kind", "lies",
             "bullied", "helpout", "reflect", "steals", "oldbest", "afraid", "attends"]


def test_a_required_item_must_be_answered_or_declined_on_every_line(app, tmp_path):
    without = {k: v for k, v in who5_answers(40).items() if k != "who5_3"}
    lines = [_line(), _line(person="far", answers=without)]
    result = app.test_cli_runner().invoke(main, ["import-responses", str(_write(tmp_path, lines)),
                                                 "--create-municipalities"])
    assert result.exit_code != 0
    assert "line 2: who5: required item(s) neither answered nor declined: who5_3" in result.output
    assert "line 1:" not in result.output
    assert _count(app, Response) == 0 and _count(app, Family) == 0
    # Declined on purpose is an answer: the line imports, with the decline kept (and an invalid score).
    lines[1] = _line(person="far", answers=without, declined=["who5_3"])
    result = app.test_cli_runner().invoke(main, ["import-responses", str(_write(tmp_path, lines)),
                                                 "--create-municipalities"])
    assert result.exit_code == 0, result.output
    with get_db(app).session() as session:
        father = session.scalar(select(Response).join(Person, Person.id == Response.person_id)
                                .where(Person.name == "far"))
        assert father.declined == ["who5_3"] and not father.current_score.valid


def test_an_item_that_cannot_be_declined_is_refused_as_declined(app):
    line = _line(instrument="progress_parent", answers={"pp_school_part": 3, "pp_leisure_part": 2},
                 declined=["pp_work"])
    try:
        with get_db(app).session() as session:
            import_responses(session, get_registry(app), read_jsonl(json.dumps(line)),
                             create_municipalities=True)
    except ImportFailed as exc:
        assert exc.problems == [(1, "progress_parent: declined: pp_work: this question cannot be declined")]
    else:
        raise AssertionError("expected ImportFailed")
    assert _count(app, Response) == 0


def test_a_csv_line_with_an_empty_required_cell_is_refused_with_its_line_number(app):
    header = "municipality;family;person;role;birth_date;wave;instrument;mode;submitted_at;" + ";".join(
        f"who5_{i}" for i in range(1, 6))
    rows = ["CSV Kommune;S-1;ung;youth;2005-06-01;1;who5;paper;2024-03-01;1;2;3;2;2",
            "CSV Kommune;S-2;ung;youth;2005-06-01;1;who5;paper;2024-03-01;1;2;;2;-8"]
    records = read_csv("\n".join([header, *rows]), get_registry(app))
    try:
        with get_db(app).session() as session:
            import_responses(session, get_registry(app), records, create_municipalities=True)
    except ImportFailed as exc:
        assert exc.problems == [(3, "who5: required item(s) neither answered nor declined: who5_3")]
    else:
        raise AssertionError("expected ImportFailed")
    assert _count(app, Response) == 0


def test_answers_to_hidden_questions_are_left_out_counted_and_audited(app, tmp_path):
    from formengine.models import AuditEvent

    answers = {**{item: 1 for item in SDQ_ITEMS}, "ebddiff": 0, "ebdchron": 2, "distres": 1}
    line = _line(instrument="sdq_p4_17", person="barn", role="child", birth_date="2014-05-01",
                 answers=answers)
    result = app.test_cli_runner().invoke(main, ["import-responses", str(_write(tmp_path, [line])),
                                                 "--create-municipalities"])
    assert result.exit_code == 0, result.output
    assert "Left out 2 answer(s) to questions their display condition hides." in result.output
    with get_db(app).session() as session:
        response = session.scalars(select(Response)).one()
        assert "ebdchron" not in response.answers and "distres" not in response.answers
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "clear",
                                                        AuditEvent.entity_id == response.uuid))
        assert event.detail == {"items": ["ebdchron", "distres"], "reason": "hidden_by_condition"}
        assert event.municipality_id == response.municipality_id
