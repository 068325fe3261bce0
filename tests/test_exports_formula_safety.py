"""Free text a family typed never becomes a live spreadsheet formula in CSV or XLSX exports."""

import csv
import io

from openpyxl import load_workbook

from formengine.exports.dataset import Column
from formengine.exports.writers import csv_chunks, write_xlsx

COLUMNS = [
    Column("note", {"da": "Note", "en": "Note"}, "string"),
    Column("score_total", {"da": "Total", "en": "Total"}, "number"),
]
ROWS = [
    ["=HYPERLINK(\"http://example.invalid\",\"klik\")", -8],
    ["+45 12 34", 3.0],
    ["@SUM(A1)", None],
    ["almindelig tekst", 12.5],
]


def test_csv_text_starting_like_a_formula_is_written_as_text():
    text = "".join(csv_chunks([c.name for c in COLUMNS], ROWS, ";", columns=COLUMNS)).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert [r[0] for r in rows[1:]] == [
        "'=HYPERLINK(\"http://example.invalid\",\"klik\")", "'+45 12 34", "'@SUM(A1)", "almindelig tekst",
    ]
    # numbers are not made text (a ";" file writes the decimal comma Danish spreadsheets read)
    assert [r[1] for r in rows[1:]] == ["-8", "3", "", "12,5"]


def test_xlsx_text_starting_like_a_formula_is_a_text_cell(tmp_path):
    path = tmp_path / "out.xlsx"
    write_xlsx(str(path), COLUMNS, ROWS)
    sheet = load_workbook(path)["data"]
    cells = [sheet.cell(row=r, column=1) for r in range(2, 6)]
    assert all(cell.data_type == "s" for cell in cells)
    assert cells[0].value.startswith("'=HYPERLINK")
    assert sheet.cell(row=2, column=2).value == -8
