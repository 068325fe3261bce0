"""Every layout and format for "all instruments", opened in the evaluator's own tools (pandas, pyreadstat)."""

from __future__ import annotations

import csv
import io
import zipfile

import pandas as pd
import pyreadstat
import pytest

from formengine.cli import main
from formengine.db import get_db
from formengine.exports.dataset import ExportRequest, scored_instrument_ids
from formengine.exports.service import build_export
from formengine.exports.writers import csv_chunks, note_lines, stata_names
from formengine.registry import get_registry
from tests.conftest import load_demo_into


@pytest.fixture
def demo_cases(app):
    load_demo_into(app, cases=True)
    return app


def _build(app, layout, fmt, instruments=None, **kwargs):
    registry = get_registry(app)
    if instruments is None:
        instruments = (scored_instrument_ids(registry) if layout == "wide"
                       else tuple(i.id for i in registry.sorted_instruments()))
    with get_db(app).session() as session:
        export = build_export(session, registry, ExportRequest(instrument_ids=instruments), layout=layout,
                              fmt=fmt, **kwargs)
        body = b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in export.chunks)
    return export, body


def _decimal_score_columns(frame):
    return [c for c in frame.columns if c.startswith("score_") and frame[c].dtype == float
            and (frame[c].dropna() % 1 != 0).any()]


@pytest.mark.parametrize("layout", ["long", "wide"])
@pytest.mark.parametrize("fmt", ["csv", "codebook", "xlsx", "sav", "dta"])
def test_every_layout_and_format_works_for_all_instruments(demo_cases, tmp_path, layout, fmt):
    export, body = _build(demo_cases, layout, fmt)
    path = tmp_path / export.filename
    path.write_bytes(body)
    if layout == "long":  # several instruments: one file per instrument in a ZIP
        assert export.mimetype == "application/zip"
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        assert len(names) == len(get_registry(demo_cases).sorted_instruments())
        archive.extractall(tmp_path / "x")
        files = [tmp_path / "x" / n for n in names]
    else:
        files = [path]
    rows = 0
    for file in files:
        if fmt in ("csv", "codebook"):
            frame = pd.read_csv(file, sep=";", decimal=",", encoding="utf-8-sig")
        elif fmt == "xlsx":
            frame = pd.read_excel(file, sheet_name="data")
        elif fmt == "sav":
            frame, meta = pyreadstat.read_sav(str(file))
            assert all(len(n.encode("utf-8")) <= 80 for n in meta.notes)
        else:
            frame, meta = pyreadstat.read_dta(str(file))
            assert all(len(n) <= 32 for n in meta.column_names)
        rows += len(frame)
    assert rows > 0


def test_wide_spss_for_all_instruments_wraps_its_note():
    versions = "; ".join(f"instrument{i} 1.0.0 (scoring 1)" for i in range(12))
    note = "formengine export, wide layout: " + versions
    lines = note_lines(note)
    assert len(lines) > 1 and all(len(line.encode("utf-8")) <= 80 for line in lines)
    assert " ".join(lines) == note
    assert all(len(line.encode()) <= 80 for line in note_lines("æ" * 100))


def test_semicolon_csv_has_decimal_commas_and_xlsx_has_numbers(demo_cases, tmp_path):
    _, body = _build(demo_cases, "long", "csv", instruments=("fidelity",))
    text = body.decode("utf-8-sig")
    frame = pd.read_csv(io.StringIO(text), sep=";", decimal=",")
    decimals = _decimal_score_columns(frame)
    assert decimals, "the fidelity indexes are means with decimals"
    assert "," in text.splitlines()[1]  # 2,22 as Danish spreadsheets and R's read.csv2 read it
    # with a comma delimiter the point stays
    _, body = _build(demo_cases, "long", "csv", instruments=("fidelity",), delimiter=",")
    comma = pd.read_csv(io.StringIO(body.decode("utf-8-sig")), sep=",")
    assert comma[decimals].equals(frame[decimals])
    export, body = _build(demo_cases, "long", "xlsx", instruments=("fidelity",))
    (tmp_path / export.filename).write_bytes(body)
    sheet = pd.read_excel(tmp_path / export.filename, sheet_name="data")
    assert all(sheet[c].dtype == float for c in decimals)
    assert sheet[decimals].equals(frame[decimals])


def test_csv_chunks_without_decimals_keeps_integers():
    from formengine.exports.dataset import Column

    columns = [Column("x", {"da": "x", "en": "x"}, "number")]
    text = "".join(csv_chunks(["x"], [[2.0], [2.25], [None]], ";", columns))
    assert [r[0] if r else "" for r in csv.reader(io.StringIO(text), delimiter=";")][1:] == ["2", "2,25", ""]


def test_stata_names_are_short_valid_and_unique():
    names = stata_names(["a" * 40, "a" * 40 + "b", "1x", "ok_name", "æble"])
    assert all(len(v) <= 32 for v in names.values()) and len(set(names.values())) == 5
    assert names["ok_name"] == "ok_name" and names["1x"].startswith("v_")


def test_dta_keeps_value_labels(demo_cases, tmp_path):
    export, body = _build(demo_cases, "long", "dta", instruments=("who5",))
    path = tmp_path / export.filename
    path.write_bytes(body)
    frame, meta = pyreadstat.read_dta(str(path))
    assert meta.variable_value_labels["who5_1"][0] == "På intet tidspunkt"
    assert meta.variable_value_labels["band_percent"][1].startswith("Sandsynlig depression")
    assert dict(zip(meta.column_names, meta.column_labels, strict=True))["who5_1"] == "Har været i godt humør"
    assert len(frame) > 0


def test_export_command_streams_with_the_page_options(demo_cases, tmp_path):
    runner = demo_cases.test_cli_runner()
    out = tmp_path / "pss.csv"
    result = runner.invoke(main, ["export", "--instrument", "pss", "--municipality", "Demo Kommune A",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig")
    assert set(frame["municipality"]) == {"Demo Kommune A"} and frame["person"].str.startswith("P").all()
    result = runner.invoke(main, ["export", "--layout", "wide", "--format", "dta", "--identifiable",
                                  "--enrolled-from", "2000-01-01", "-o", str(tmp_path / "w.dta")])
    assert result.exit_code == 0, result.output
    frame, _meta = pyreadstat.read_dta(str(tmp_path / "w.dta"))
    assert "birth_date" in frame.columns and len(frame) > 0
    result = runner.invoke(main, ["export", "--instrument", "who5", "--enrolled-from", "2999-01-01"])
    assert result.exit_code == 0 and len(result.stdout_bytes.decode("utf-8-sig").splitlines()) == 1
    bad = runner.invoke(main, ["export", "--municipality", "Nowhere"])
    assert bad.exit_code != 0 and "unknown municipality" in bad.output
    bad = runner.invoke(main, ["export", "--enrolled-from", "1.1.2024"])
    assert bad.exit_code != 0 and "is not a date" in bad.output
