"""File writers: streaming CSV, XLSX (write-only), SPSS .sav with labels.

CSV is UTF-8 with a byte-order mark (so Danish Excel reads æøå) and ``;`` as
the default delimiter (Danish Excel's list separator). XLSX uses openpyxl's
write-only mode, which streams rows to disk. SPSS files are written by
pyreadstat from a data frame, so a .sav export holds its rows in memory;
export one instrument at a time for large data sets.

pyreadstat and pandas are optional (``pip install formengine[spss]``):
``OPTIONAL`` says which format needs which packages, and ``missing_packages``
is the one check that the writers, the export service and the web page use.
"""

from __future__ import annotations

import csv
import importlib
import io
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from formengine.exports.dataset import Column, codebook_rows
from formengine.exports.layout import DECLINED

DELIMITERS = {"semicolon": ";", "comma": ",", "tab": "\t"}
# Formats whose writer needs packages that are not installed by default:
# format -> (the extra that installs them, the modules imported).
OPTIONAL: dict[str, tuple[str, tuple[str, ...]]] = {"sav": ("spss", ("pandas", "pyreadstat")),
                                                    "dta": ("spss", ("pandas", "pyreadstat"))}
BOM = "\ufeff"
CHUNK_ROWS = 500


# A cell starting with one of these is a formula to Excel and LibreOffice; free
# text a family typed must never run as one (CSV/formula injection), so such a
# text is written with a leading apostrophe, which spreadsheets show as text.
_FORMULA_START = frozenset("=+-@\t\r")


def _safe_text(value: Any) -> Any:
    if isinstance(value, str) and value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _moment_cell(value: Any) -> Any:
    return "" if value is None else value.isoformat(timespec="seconds")


def _number_cell(value: Any) -> Any:
    return int(value) if type(value) is float and value.is_integer() else value


def _decimal_comma_cell(value: Any) -> Any:
    """A number for a ``;`` file: decimal comma, as Danish Excel, LibreOffice and R's read.csv2 read it."""
    if type(value) is float:
        return int(value) if value.is_integer() else repr(value).replace(".", ",")
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], delimiter: str = ";",
               columns: Sequence[Column] | None = None) -> Iterator[str]:
    """CSV text in chunks of a few hundred rows: BOM and header first. Nothing is held beyond a chunk.

    With ``columns`` (the codebook of the rows) only the date, time, number
    and yes/no columns are formatted, each by its type; other values are
    written as they are (None as empty). Without it every cell is checked.
    With ``;`` as delimiter (the Danish spreadsheet form) decimal numbers
    are written with a decimal comma (``2,25``); with ``,`` or tab with a point.
    """
    if delimiter not in DELIMITERS.values():
        raise ValueError(f"delimiter {delimiter!r} is not one of ; , or tab")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    yield BOM + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    converters = None
    if columns is not None:
        number = _decimal_comma_cell if delimiter == ";" else _number_cell
        kinds = {"datetime": _moment_cell, "date": _cell, "number": number, "boolean": _cell,
                 "string": _safe_text}
        converters = [(i, kinds[c.type]) for i, c in enumerate(columns) if c.type in kinds]
    count = 0
    for row in rows:
        if converters is None:
            row = [_cell(v) for v in row]
        elif converters:
            row = list(row)
            for i, convert in converters:
                row[i] = convert(row[i])
        writer.writerow(row)
        count += 1
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    rest = buffer.getvalue()
    if rest:
        yield rest


def codebook_csv(columns: list[Column], delimiter: str = ";") -> Iterator[str]:
    """The codebook as CSV."""
    rows = codebook_rows(columns)
    header = next(rows)
    return csv_chunks(header, rows, delimiter)



def write_xlsx(path: str, columns: list[Column], rows: Iterable[Sequence[Any]], sheet: str = "data") -> None:
    """An .xlsx with the data on one sheet and the codebook on a second."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(sheet)
    data.append([c.name for c in columns])
    for row in rows:
        data.append([_xlsx_cell(v) for v in row])
    book = workbook.create_sheet("codebook")
    for row in codebook_rows(columns):
        book.append([_xlsx_cell(v) for v in row])
    workbook.save(path)


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, datetime):
        # Excel has no time zones; the values are UTC, as the codebook says
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool):
        return int(value)
    return value


class MissingPackages(RuntimeError):
    """A format's writer needs packages that are not installed; ``extra`` is what to install."""

    def __init__(self, fmt: str, extra: str, packages: Sequence[str]) -> None:
        self.fmt, self.extra, self.packages = fmt, extra, tuple(packages)
        super().__init__(f"the {fmt} export needs the Python packages {', '.join(self.packages)}, "
                         f"which are not installed: pip install 'formengine[{extra}]'")


def missing_packages(fmt: str) -> MissingPackages | None:
    """Why ``fmt`` cannot be written here (a ``MissingPackages``), or None when it can."""
    if fmt not in OPTIONAL:
        return None
    extra, modules = OPTIONAL[fmt]
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return MissingPackages(fmt, extra, missing) if missing else None


def _require(fmt: str) -> None:
    problem = missing_packages(fmt)
    if problem is not None:
        raise problem


def _frame(columns: list[Column], rows: Iterable[Sequence[Any]]) -> tuple[Any, dict[str, Any]]:
    """The rows as a data frame for pyreadstat, with the labels, missing codes and formats of ``columns``.

    Band columns (codes as text) become numbers 1..k with the bands as value
    labels, since SPSS and Stata value labels need numeric variables.
    """
    import pandas as pd

    data: dict[str, list[Any]] = {c.name: [] for c in columns}
    recode: dict[str, dict[Any, int]] = {}
    for c in columns:
        if c.type == "string" and c.value_labels and c.band:
            recode[c.name] = {code: i for i, (code, _label) in enumerate(c.value_labels, start=1)}
    names = [c.name for c in columns]
    for row in rows:
        for name, value in zip(names, row, strict=True):
            if name in recode and value is not None:
                value = recode[name].get(value, value)
            data[name].append(value)
    frame_columns: dict[str, Any] = {}
    meta: dict[str, Any] = {"value_labels": {}, "missing": {}, "formats": {}, "measures": {}}
    for c in columns:
        values = data.pop(c.name)
        if c.name in recode:
            frame_columns[c.name] = pd.array([_number(v) for v in values], dtype="float64")
            meta["value_labels"][c.name] = {float(i): lab["da"] for code, lab in c.value_labels
                                            for i in [recode[c.name][code]]}
        elif c.type in ("integer", "number", "boolean"):
            frame_columns[c.name] = pd.array([_number(v) for v in values], dtype="float64")
            if c.value_labels:
                meta["value_labels"][c.name] = {float(code): lab["da"] for code, lab in c.value_labels
                                                if isinstance(code, int | float)}
            if c.missing and str(DECLINED) in c.missing.get("en", ""):
                meta["missing"][c.name] = [float(DECLINED)]
            if c.type == "integer" or c.type == "boolean":
                meta["formats"][c.name] = "F8.0"
        elif c.type in ("date", "datetime"):
            frame_columns[c.name] = pd.Series([_naive(v) for v in values], dtype="datetime64[ns]")
        else:
            frame_columns[c.name] = pd.Series(["" if v is None else str(v) for v in values], dtype="object")
        meta["measures"][c.name] = c.measure
    return pd.DataFrame(frame_columns, columns=names), meta


NOTE_BYTES = 80  # an SPSS document line holds 80 bytes


def note_lines(note: str, width: int = NOTE_BYTES) -> list[str]:
    """A file note cut into lines of at most ``width`` UTF-8 bytes, at spaces where possible."""
    lines: list[str] = []
    for paragraph in note.splitlines() or [""]:
        words = paragraph.split(" ")
        line = ""
        for word in words:
            candidate = f"{line} {word}" if line else word
            if len(candidate.encode("utf-8")) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while len(word.encode("utf-8")) > width:  # a single over-long word: cut it
                cut = width
                while len(word[:cut].encode("utf-8")) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return [line for line in lines if line] or [""]


def write_sav(path: str, columns: list[Column], rows: Iterable[Sequence[Any]], note: str = "") -> None:
    """An SPSS .sav with variable labels (Danish), value labels and the declined code as user-missing.

    Band columns (codes as text) become numbers 1..k with the bands as value
    labels. The note (instrument and scoring versions) is wrapped into the
    format's 80-byte lines. Needs the ``spss`` extra; raises ``MissingPackages`` without it.
    """
    _require("sav")
    import pyreadstat

    frame, meta = _frame(columns, rows)
    pyreadstat.write_sav(
        frame, path,
        column_labels={c.name: c.label["da"][:250] for c in columns},
        variable_value_labels=meta["value_labels"] or None,
        missing_ranges=meta["missing"] or None,
        variable_measure=meta["measures"],
        variable_format=meta["formats"] or None,
        note=note_lines(note) if note else None,
    )


STATA_NAME = 32
# pyreadstat names a variable's value-label set after the variable plus a counter,
# and that name has Stata's limit too: labelled variables keep room for it
STATA_LABELLED_NAME = 27
STATA_LABEL = 80


def stata_names(names: Sequence[str], labelled: Collection[str] = ()) -> dict[str, str]:
    """Stata variable names (letters, digits, _; at most 32 characters, 27 with value labels), unique."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        clean = "".join(ch if (ch.isascii() and (ch.isalnum() or ch == "_")) else "_" for ch in name)
        if not clean or clean[0].isdigit():
            clean = "v_" + clean
        limit = STATA_LABELLED_NAME if name in labelled else STATA_NAME
        candidate = clean[:limit]
        counter = 1
        while candidate in taken:
            counter += 1
            tail = f"_{counter}"
            candidate = clean[:limit - len(tail)] + tail
        taken.add(candidate)
        out[name] = candidate
    return out


def write_dta(path: str, columns: list[Column], rows: Iterable[Sequence[Any]], note: str = "") -> None:
    """A Stata .dta (version 15) with variable labels (Danish) and value labels.

    As in the .sav, bands are 1..k with the band labels; the declined code
    -8 carries the value label "declined" (Stata has no user-missing
    numbers). Names longer than Stata allows (32 characters, 27 for a
    variable with value labels) are shortened; the variable label still
    says what the variable is.
    """
    _require("dta")
    import pyreadstat

    frame, meta = _frame(columns, rows)
    labelled = {c.name for c in columns if c.name in meta["value_labels"] or c.name in meta["missing"]}
    renamed = stata_names([c.name for c in columns], labelled)
    frame = frame.rename(columns=renamed)
    value_labels: dict[str, dict[Any, str]] = {}
    for name, labels in meta["value_labels"].items():
        whole = {k: v for k, v in labels.items() if float(k).is_integer()}
        if name in meta["missing"]:
            whole.setdefault(float(DECLINED), "Ønskede ikke at svare / declined")
        if whole:
            value_labels[renamed[name]] = {k: v[:STATA_LABEL * 4] for k, v in whole.items()}
    pyreadstat.write_dta(
        frame, path,
        file_label=note_lines(note, STATA_LABEL)[0] if note else "",
        column_labels={renamed[c.name]: _cut_bytes(c.label["da"], STATA_LABEL) for c in columns},
        variable_value_labels=value_labels or None,
    )


def _cut_bytes(text: str, limit: int) -> str:
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _naive(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def file_chunks(path: str, chunk: int = 1 << 16, remove: bool = True) -> Iterator[bytes]:
    """Read a finished file in chunks (for a streaming response), then delete it."""
    try:
        with open(path, "rb") as handle:
            while True:
                block = handle.read(chunk)
                if not block:
                    break
                yield block
    finally:
        if remove:
            try:
                os.unlink(path)
            except OSError:
                pass


def temp_path(suffix: str) -> str:
    """A fresh temporary file path (the caller removes it)."""
    fd, path = tempfile.mkstemp(prefix="formengine-export-", suffix=suffix)
    os.close(fd)
    return path
