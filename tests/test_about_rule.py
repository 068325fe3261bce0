"""One "about" rule: a self-report is about its respondent, whether typed on the tablet or imported."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy import select

from formengine import drafts
from formengine.db import get_db
from formengine.exports.dataset import ExportRequest
from formengine.exports.service import build_export
from formengine.imports import import_responses, read_jsonl
from formengine.models import Family, Person, Response, Wave
from formengine.registry import get_registry
from formengine.reports import progression_report
from formengine.responses import start_draft, subject_of
from tests.test_exports import _content
from tests.test_import import _line
from tests.test_reports import who5_answers


def _import(session, registry, lines):
    import json

    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    import_responses(session, registry, read_jsonl(text), create_municipalities=True)


def test_subject_rule():
    assert subject_of(7, None) == 7          # a self-report is about its respondent
    assert subject_of(7, 9) == 9             # a parent's form about a child is about the child
    assert subject_of(None, None) is None    # municipality forms and practice: about nobody


def test_tablet_measurement_1_and_paper_measurement_2_of_one_person_pair(app):
    registry = get_registry(app)
    instrument = registry.get("who5")
    db = get_db(app)
    with db.session() as session:
        # measurement 1 of the family exists (the father's paper form)
        _import(session, registry, [_line(person="far", birth_date="1980-01-01", answers=who5_answers(20))])
    with db.session() as session:
        family = session.scalar(select(Family).where(Family.case_ref == "SAG-1"))
        wave1 = session.scalar(select(Wave).where(Wave.family_id == family.id, Wave.number == 1))
        mother = Person(family_id=family.id, municipality_id=family.municipality_id, name="mor",
                        role="parent", birth_date=date(1984, 2, 3), sex="female")
        session.add(mother)
        session.flush()
        # the tablet: the measure page starts a draft for the person, the stepper saves and submits
        draft = start_draft(session, instrument, municipality_id=family.municipality_id, entered_by=None,
                            wording={"kind": "project"}, person_id=mother.id, wave_id=wave1.id)
        version = drafts.save_answers(session, draft, instrument.definition, who5_answers(40), draft.version)
        drafts.submit_draft(session, draft, instrument, version)
        mother_id = mother.id
    with db.session() as session:
        # measurement 2 on paper, imported
        _import(session, registry, [_line(wave=2, answers=who5_answers(60), submitted_at="2024-08-01")])
    with db.session() as session:
        mine = list(session.scalars(select(Response).where(Response.person_id == mother_id)))
        assert len(mine) == 2 and {r.about_person_id for r in mine} == {mother_id}
        report = progression_report(session, instrument, "percent", 1, 2)
        assert report.stats.n == 1 and report.stats.mean_change == 20
        export = build_export(session, registry, ExportRequest(instrument_ids=("who5",)),
                              layout="wide", fmt="csv")
        rows = list(csv.DictReader(io.StringIO(_content(export).decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 2  # the mother once (both measurements), the father once
    both = [r for r in rows if any(v == "40" for v in r.values()) and any(v == "60" for v in r.values())]
    assert len(both) == 1, rows
