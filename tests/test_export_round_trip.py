"""An identifiable long export re-imports into an empty database as it is, file by file in any order.

Exported from the demo data (plus a person with an unknown birth date, a
response answered with a wording pack and one created long before it was
submitted), imported into a fresh database one file at a time in reverse
order (the parent's SDQ about a child before the child's own files), then
exported again: every row is the same, ids, links, wording, timestamps and
scores included.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from formengine.app import create_app
from formengine.db import Database, get_db
from formengine.exports.dataset import ExportRequest
from formengine.exports.service import build_export
from formengine.imports import import_responses, read_csv
from formengine.models import Family, Person, Response, Wave
from formengine.registry import get_registry
from tests.conftest import _drop_database, _worker_database, load_demo_into

PACK = {"kind": "wording_pack", "source": "Official Danish wording, licence 2026-1 (test)",
        "sha256": "ab" * 32, "lang": "da"}


def _long_files(app) -> dict[str, str]:
    registry = get_registry(app)
    person_forms = tuple(i.id for i in registry.sorted_instruments() if i.definition.subject == "person")
    with get_db(app).session() as session:
        request = ExportRequest(instrument_ids=person_forms, identifiable=True)
        export = build_export(session, registry, request, layout="long", fmt="csv")
        body = b"".join(c.encode() if isinstance(c, str) else c for c in export.chunks)
    archive = zipfile.ZipFile(io.BytesIO(body))
    return {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}


def _rows(text: str) -> list[dict[str, str]]:
    return sorted(csv.DictReader(io.StringIO(text), delimiter=";"), key=lambda r: r["response_id"])


@pytest.fixture
def empty_app(database_url, tmp_path):
    """A second, empty database of the same kind as the test's."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = _worker_database(database_url, "roundtrip")
    db = Database(url)
    db.upgrade()
    db.engine.dispose()
    app = create_app({"INSTANCE_PATH": str(tmp_path / "fresh-instance"), "DATABASE_URL": url,
                      "TESTING": True, "SECRET_KEY": "test-secret"})
    yield app
    get_db(app).engine.dispose()
    if not database_url.startswith("sqlite"):
        _drop_database(url)


def test_identifiable_long_export_round_trips_file_by_file(app, empty_app):
    load_demo_into(app, cases=True)
    with get_db(app).session() as session:
        # an unknown birth date, a wording pack and a response created well before it was submitted
        person = session.scalars(select(Person).join(Family).where(Person.role == "parent")
                                 .order_by(Person.id)).first()
        person.birth_date = None
        responses = session.scalars(select(Response).where(Response.status == "submitted")
                                    .order_by(Response.id)).all()
        responses[0].wording = dict(PACK)
        responses[1].created_at = responses[1].submitted_at - timedelta(days=2, minutes=7)
        # a family closed after its second measurement: the closing is stored as measurement 3
        last = session.get(Wave, [r for r in responses if r.person_id is not None][-1].wave_id)
        last.kind = "closing"
        session.commit()
    files = _long_files(app)
    rows = {name: _rows(text) for name, text in files.items()}
    assert sum(len(r) for r in rows.values()) > 100
    assert any(r["birth_date"] == "" for rs in rows.values() for r in rs)
    about_child = [r for rs in rows.values() for r in rs if r["about"] != r["person"]]
    assert about_child and all(r["about_role"] for r in about_child)
    assert any(r["wave_kind"] == "closing" for rs in rows.values() for r in rs)

    registry = get_registry(empty_app)
    for name in sorted(files, reverse=True):  # the SDQ about a child before the child's own files
        if not rows[name]:
            continue  # an instrument nobody answered: its file has the header only
        with get_db(empty_app).session() as session:
            import_responses(session, registry, read_csv(files[name], registry), create_municipalities=True)
            session.commit()

    again = {name: _rows(text) for name, text in _long_files(empty_app).items()}
    assert set(again) == set(rows)
    for name in rows:
        assert len(again[name]) == len(rows[name]), name
        for before, after in zip(rows[name], again[name], strict=True):
            assert after == before, name
    with get_db(empty_app).session() as session:
        assert [r.wording for r in session.scalars(select(Response)) if r.wording.get("sha256")] == [PACK]


def test_an_about_line_without_its_subject_details_is_still_refused(app):
    """A hand-made line naming an unknown child, with no about_role, keeps the clear refusal."""
    load_demo_into(app)
    text = ("municipality;family;person;role;birth_date;about;wave;instrument;mode;submitted_at;"
            "who5_1;who5_2;who5_3;who5_4;who5_5\r\n"
            "Demo Kommune A;NY-1;mor;parent;1980-01-01;barn;1;who5;paper;2024-03-01T10:00:00+00:00;"
            "3;3;3;3;3\r\n")
    registry = get_registry(app)
    with get_db(app).session() as session, pytest.raises(ValueError, match="about 'barn' is not a person"):
        import_responses(session, registry, read_csv(text, registry))
