"""Exports read back in their own tools: CSV + codebook, XLSX (openpyxl), SPSS (pyreadstat), FHIR R4."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, date, datetime

import pytest

from formengine.db import get_db
from formengine.exports.dataset import ExportRequest
from formengine.exports.pseudonyms import pseudonym
from formengine.exports.service import ExportError, build_export
from formengine.registry import get_registry
from tests.test_reports import TEST_PLUGINS, World, who5_answers


def _content(export) -> bytes:
    return b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in export.chunks)


@pytest.fixture
def data(make_app):
    """Two municipalities; a parent with three WHO-5 measurements (one declined item at closing)."""
    app = make_app(EXTRA_PLUGINS=TEST_PLUGINS)
    registry = get_registry(app)
    ids = {}
    with get_db(app).session() as session:
        world = World(session, registry)
        a, b = world.municipality("Alfa Kommune"), world.municipality("Beta Kommune")
        family = world.family(a, "SAG-A1")
        mother = world.person(family, name="Mor Æblegrød", birth_date=date(1984, 6, 1))
        mother.cpr = "0106841234"
        child = world.person(family, role="child", name="Barn", birth_date=date(2014, 1, 1), sex="male")
        w1, w2, wc = world.wave(family, 1), world.wave(family, 2), world.wave(family, 3, "closing")
        world.respond("who5", who5_answers(40), mother, w1, when=datetime(2024, 1, 10, 9, tzinfo=UTC))
        world.respond("who5", who5_answers(60), mother, w2, when=datetime(2024, 7, 10, 9, tzinfo=UTC))
        closing = world.respond("who5", {"who5_1": 3, "who5_2": 3, "who5_3": 3, "who5_5": 3}, mother, wc,
                                when=datetime(2025, 1, 10, 9, tzinfo=UTC))
        closing.declined = ["who5_4"]
        world.respond("tscale", {"t_1": 4, "t_2": 5}, mother, w1, about=child)
        other = world.family(b, "SAG-B1")
        father = world.person(other, name="Far")
        world.respond("who5", who5_answers(80), father, world.wave(other, 1))
        ids.update(a=a.id, b=b.id, a_key=a.pseudonym_key, mother=mother.id, father=father.id, child=child.id,
                   family_a=family.id)
    return app, registry, ids


def _export(app, registry, **kwargs):
    request = ExportRequest(instrument_ids=kwargs.pop("instruments", ("who5",)),
                            municipality_ids=kwargs.pop("municipality_ids", None),
                            identifiable=kwargs.pop("identifiable", False))
    with get_db(app).session() as session:
        export = build_export(session, registry, request, **kwargs)
        return export, _content(export)


def test_long_csv_is_pseudonymised_utf8_bom_semicolon(data):
    app, registry, ids = data
    export, body = _export(app, registry, layout="long", fmt="csv")
    assert export.filename.endswith(".csv") and body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(rows) == 4
    mother_pid = pseudonym(ids["a_key"], "person", ids["mother"])
    mine = [r for r in rows if r["person"] == mother_pid]
    assert [r["wave"] for r in mine] == ["1", "2", "3"] and mine[2]["wave_kind"] == "closing"
    assert [r["score_percent"] for r in mine] == ["40", "60", ""]
    assert mine[0]["band_percent"] == "poor_wellbeing" and mine[2]["score_valid"] == "0"
    assert mine[2]["who5_4"] == "-8" and mine[2]["score_flags"] == "missing_items"
    assert mine[0]["age"] == "39" and "birth_date" not in rows[0]
    assert mine[0]["mode"] == "paper" and mine[0]["instrument_version"] == "1.0.0"
    assert mine[0]["submitted_at"] == "2024-01-10T09:00:00+00:00"
    # nothing identifying: no names, case references or CPR numbers
    for secret in ("Mor", "SAG-A1", "0106841234", "Far"):
        assert secret not in text
    # pseudonyms are stable between exports and keyed per municipality
    _, again = _export(app, registry, layout="long", fmt="csv")
    assert again == body
    other = [r for r in rows if r["municipality"] == "Beta Kommune"][0]["person"]
    assert other.startswith("P") and other != pseudonym(ids["a_key"], "person", ids["father"])


def test_identifiable_export_and_delimiter_choice(data):
    app, registry, ids = data
    _, body = _export(app, registry, layout="long", fmt="csv", delimiter=",", identifiable=True,
                      municipality_ids=(ids["a"],))
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=","))
    assert len(rows) == 3 and {r["person"] for r in rows} == {"Mor Æblegrød"}
    assert rows[0]["family"] == "SAG-A1" and rows[0]["birth_date"] == "1984-06-01"
    assert "0106841234" not in body.decode("utf-8-sig")
    with pytest.raises(ValueError, match="delimiter"):
        _export(app, registry, layout="long", fmt="csv", delimiter="|")


def test_codebook_lists_labels_types_value_labels_missing_and_versions(data):
    app, registry, _ids = data
    _, body = _export(app, registry, layout="long", fmt="codebook")
    book = {r["variable"]: r for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";")}
    item = book["who5_1"]
    assert item["label_da"] == "Har været i godt humør" and item["label_en"] == "Has been in good spirits"
    assert item["type"] == "integer"
    assert item["value_labels_en"].startswith("0=At no time; 1=Some of the time")
    assert "-8" in item["missing_en"] and item["instrument_version"] == "1.0.0"
    assert book["score_percent"]["scoring_version"] == registry.get("who5").scoring_version
    assert book["band_percent"]["value_labels_en"].startswith("likely_depression=Likely depression")
    assert book["role"]["value_labels_da"].startswith("child=Barn")


def test_wide_csv_one_row_per_person(data):
    app, registry, ids = data
    _, body = _export(app, registry, layout="wide", fmt="csv", instruments=("who5", "tscale"))
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    header = list(rows[0])
    assert header[:12] == ["municipality", "family", "person", "about", "role", "sex", "age", "enrolled_on",
                           "closed_on", "about_role", "about_sex", "about_age"]
    assert {"who5_percent_w1", "who5_percent_w2", "who5_percent_w3", "tscale_total_w1"} <= set(header)
    mother = pseudonym(ids["a_key"], "person", ids["mother"])
    by_key = {(r["person"], r["about"]): r for r in rows}
    own = by_key[(mother, mother)]  # a self-report is about its respondent
    # the closing measurement is measurement 3 (its number), marked as closing; its score was not valid
    assert (own["who5_percent_w1"], own["who5_percent_w2"], own["who5_percent_w3"]) == ("40", "60", "")
    assert (own["who5_kind_w1"], own["who5_kind_w2"]) == ("baseline", "progress")
    assert own["who5_date_w2"] == "2024-07-10" and own["who5_days_w2"] == str((date(2024, 7, 10)
                                                                                - date(2024, 1, 15)).days)
    assert own["who5_mode_w1"] == "paper" and own["who5_percent_band_w1"] == "poor_wellbeing"
    assert own["who5_sv_w1"] == registry.get("who5").scoring_version and own["who5_iv_w1"] == "1.0.0"
    assert own["enrolled_on"] == "2024-01-15" and own["closed_on"] == ""
    about = by_key[(mother, pseudonym(ids["a_key"], "person", ids["child"]))]
    assert about["tscale_total_w1"] == "9" and about["who5_percent_w1"] == ""
    assert (about["about_role"], about["about_sex"], about["about_age"]) == ("child", "male", "10")
    assert len(rows) == 3
    _, book = _export(app, registry, layout="wide", fmt="codebook", instruments=("who5", "tscale"))
    first = list(csv.DictReader(io.StringIO(book.decode("utf-8-sig")), delimiter=";"))[0]
    assert first["variable"] == "(rows)" and first["label_en"].startswith("One row per respondent and")


def test_xlsx_opens_in_openpyxl_with_codebook(data, tmp_path):
    from openpyxl import load_workbook

    app, registry, _ids = data
    export, body = _export(app, registry, layout="long", fmt="xlsx")
    path = tmp_path / export.filename
    path.write_bytes(body)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["data", "codebook"]
    rows = list(book["data"].iter_rows(values_only=True))
    header = rows[0]
    assert len(rows) == 5 and "who5_1" in header
    percent = header.index("score_percent")
    assert sorted(r[percent] for r in rows[1:] if r[percent] is not None) == [40, 60, 80]
    submitted = rows[1][header.index("submitted_at")]
    assert isinstance(submitted, datetime)
    codebook = list(book["codebook"].iter_rows(values_only=True))
    assert codebook[0][0] == "variable" and any(r[0] == "who5_5" for r in codebook)


def test_spss_sav_has_variable_and_value_labels(data, tmp_path):
    import pyreadstat

    app, registry, _ids = data
    export, body = _export(app, registry, layout="long", fmt="sav")
    path = tmp_path / export.filename
    path.write_bytes(body)
    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert len(frame) == 4
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["who5_1"] == "Har været i godt humør"
    assert meta.variable_value_labels["who5_1"][0.0] == "På intet tidspunkt"
    assert meta.variable_value_labels["band_percent"][1.0].startswith("Sandsynlig depression")
    assert sorted(frame["score_percent"].dropna().tolist()) == [40.0, 60.0, 80.0]
    assert -8.0 in frame["who5_4"].tolist()
    assert meta.missing_ranges["who5_4"] == [{"lo": -8.0, "hi": -8.0}]
    assert "who5 1.0.0" in (meta.notes[0] if meta.notes else "")

    export, body = _export(app, registry, layout="wide", fmt="sav", instruments=("who5", "tscale"))
    path = tmp_path / export.filename
    path.write_bytes(body)
    frame, meta = pyreadstat.read_sav(str(path))
    assert "who5_percent_w2" in meta.column_names and len(frame) == 3
    assert meta.variable_value_labels["who5_percent_band_w1"][1.0].startswith("Sandsynlig depression")


FHIR_MODELS = ("Questionnaire", "QuestionnaireResponse", "Observation", "Patient", "Group")


def _validate_fhir(resources):
    """Every resource through the fhir.resources models (R4B, which keeps R4's shape for these)."""
    import importlib

    for resource in resources:
        kind = resource["resourceType"]
        assert kind in FHIR_MODELS, kind
        module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
        getattr(module, kind).model_validate(resource)


def _measurement(resource):
    ext = next(e for e in resource["extension"] if e["url"].endswith(":measurement"))
    return {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in ext["extension"]}


def test_fhir_resources_validate_as_r4(data):
    app, registry, ids = data
    export, body = _export(app, registry, layout="long", fmt="fhir", instruments=("who5", "tscale"))
    assert export.mimetype == "application/fhir+ndjson"
    resources = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    _validate_fhir(resources)
    questionnaires = [r for r in resources if r["resourceType"] == "Questionnaire"]
    answers = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    assert len(questionnaires) == 2 and len(answers) == 5
    # each scored response's current score, derived from it and naming the scoring version
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    assert len(observations) == len(answers)
    assert {o["derivedFrom"][0]["reference"] for o in observations} == {
        f"QuestionnaireResponse/{a['id']}" for a in answers}
    assert all(o["method"]["coding"][0]["code"] == "1" for o in observations)
    who5 = next(q for q in questionnaires if q["url"].endswith(":who5"))
    assert who5["item"][0]["answerOption"][5]["valueCoding"]["code"] == "5"
    mother = pseudonym(ids["a_key"], "person", ids["mother"])
    child = pseudonym(ids["a_key"], "person", ids["child"])
    closing = [r for r in answers if r["subject"]["identifier"]["value"] == mother
               and r["questionnaire"].startswith(who5["url"]) and r["authored"].startswith("2025")][0]
    # the declined item is left out
    assert [i["linkId"] for i in closing["item"]] == ["who5_1", "who5_2", "who5_3", "who5_5"]
    assert _measurement(closing)["number"] == 3 and _measurement(closing)["kind"] == "closing"
    # the parent's form about the child: the child is the subject, the parent the source
    about_child = next(r for r in answers
                       if r["questionnaire"].startswith("urn:formengine:questionnaire:tscale"))
    assert about_child["subject"]["identifier"]["value"] == child
    assert about_child["source"]["identifier"]["value"] == mother
    assert about_child["author"] == about_child["source"]
    # every reference resolves to a Patient or Group in the file; a family is a Group of its Patients
    ids_in_file = {f"{r['resourceType']}/{r['id']}" for r in resources}
    assert {a["subject"]["reference"] for a in answers} <= ids_in_file
    groups = [r for r in resources if r["resourceType"] == "Group"]
    family_a = next(g for g in groups if g["identifier"][0]["value"] == pseudonym(ids["a_key"], "family",
                                                                                     ids["family_a"]))
    assert {m["entity"]["identifier"]["value"] for m in family_a["member"]} == {mother, child}
    assert _measurement(closing)["family"]["reference"] == f"Group/{family_a['id']}"
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert all("birthDate" not in p for p in patients) and len(patients) == 3
    # pairable: measurement 1 and 2 of the same subject and source
    series = {}
    for a in answers:
        key = (a["subject"]["reference"], a["source"]["reference"], a["questionnaire"])
        series.setdefault(key, {})[_measurement(a)["number"]] = a["id"]
    assert sorted(series[(closing["subject"]["reference"], closing["source"]["reference"],
                          closing["questionnaire"])]) == [1, 2, 3]


def test_fhir_identifiable_export_uses_case_scoped_identifiers(data):
    app, registry, ids = data
    _export_file, body = _export(app, registry, layout="long", fmt="fhir", instruments=("who5", "tscale"),
                                 identifiable=True)
    resources = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    _validate_fhir(resources)
    patients = {p["identifier"][0]["value"]: p for p in resources if p["resourceType"] == "Patient"}
    assert set(patients) == {"Alfa Kommune/SAG-A1/Mor Æblegrød", "Alfa Kommune/SAG-A1/Barn",
                             "Beta Kommune/SAG-B1/Far"}
    assert patients["Alfa Kommune/SAG-A1/Barn"]["birthDate"] == "2014-01-01"
    assert patients["Alfa Kommune/SAG-A1/Barn"]["gender"] == "male"
    assert "0106841234" not in body.decode("utf-8")
    groups = {g["identifier"][0]["value"] for g in resources if g["resourceType"] == "Group"}
    assert groups == {"Alfa Kommune/SAG-A1", "Beta Kommune/SAG-B1"}


def test_bad_export_requests_are_refused(data):
    app, registry, _ids = data
    with pytest.raises(ExportError, match="unknown instrument"):
        _export(app, registry, layout="long", fmt="csv", instruments=("nope",))
    several, body = _export(app, registry, layout="long", fmt="csv", instruments=("who5", "tscale"))
    assert several.mimetype == "application/zip" and body[:2] == b"PK"  # one file per instrument
    with pytest.raises(ExportError, match="format"):
        _export(app, registry, layout="long", fmt="pdf")


def test_sav_without_its_packages_is_refused_naming_the_extra(data, monkeypatch, tmp_path):
    """Without the spss extra the .sav export says what to install; every other format still works."""
    from formengine.exports.service import FormatUnavailable
    from formengine.exports.writers import MissingPackages, write_sav

    app, registry, _ids = data
    monkeypatch.setitem(sys.modules, "pyreadstat", None)  # import pyreadstat now fails, as if not installed
    with pytest.raises(FormatUnavailable, match=r"pyreadstat.*formengine\[spss\]") as refused:
        _export(app, registry, layout="long", fmt="sav")
    assert refused.value.missing.packages == ("pyreadstat",) and refused.value.missing.extra == "spss"
    with pytest.raises(MissingPackages):
        write_sav(str(tmp_path / "x.sav"), [], [])
    assert not (tmp_path / "x.sav").exists()
    export, body = _export(app, registry, layout="long", fmt="xlsx")
    assert export.filename.endswith(".xlsx") and body


def test_long_export_reads_back_through_the_csv_import(data, tmp_path):
    """An identifiable long CSV is the import's layout: importing it into a fresh municipality works."""
    from formengine.imports import import_responses, read_csv

    app, registry, ids = data
    _, body = _export(app, registry, layout="long", fmt="csv", identifiable=True,
                      municipality_ids=(ids["b"],))
    text = body.decode("utf-8-sig").replace("Beta Kommune", "Gamma Kommune")
    with get_db(app).session() as session:
        summary = import_responses(session, registry, read_csv(text, registry), create_municipalities=True)
    assert summary.responses == 1 and summary.persons == 1
