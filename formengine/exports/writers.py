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
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from formengine.exports.dataset import Column, codebook_rows
from formengine.exports.layout import DECLINED

DELIMITERS = {"semicolon": ";", "comma": ",", "tab": "\t"}
# Formats whose writer needs packages that are not installed by default:
# format -> (the extra that installs them, the modules imported).
OPTIONAL: dict[str, tuple[str, tuple[str, ...]]] = {"sav": ("spss", ("pandas", "pyreadstat"))}
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


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], delimiter: str = ";",
               columns: Sequence[Column] | None = None) -> Iterator[str]:
    """CSV text in chunks of a few hundred rows: BOM and header first. Nothing is held beyond a chunk.

    With ``columns`` (the codebook of the rows) only the date, time, number
    and yes/no columns are formatted, each by its type; other values are
    written as they are (None as empty). Without it every cell is checked.
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
        kinds = {"datetime": _moment_cell, "date": _cell, "number": _number_cell, "boolean": _cell,
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


def write_sav(path: str, columns: list[Column], rows: Iterable[Sequence[Any]], note: str = "") -> None:
    """An SPSS .sav with variable labels (Danish), value labels and the declined code as user-missing.

    Band columns (codes as text) become numbers 1..k with the bands as value
    labels, since SPSS value labels need numeric variables. Needs the ``spss``
    extra; raises ``MissingPackages`` without it.
    """
    _require("sav")
    import pandas as pd
    import pyreadstat

    data: dict[str, list[Any]] = {c.name: [] for c in columns}
    recode: dict[str, dict[Any, int]] = {}
    for c in columns:
        if c.type == "string" and c.value_labels and c.name.startswith("band_"):
            recode[c.name] = {code: i for i, (code, _label) in enumerate(c.value_labels, start=1)}
    names = [c.name for c in columns]
    for row in rows:
        for name, value in zip(names, row, strict=True):
            if name in recode and value is not None:
                value = recode[name].get(value, value)
            data[name].append(value)
    frame_columns: dict[str, Any] = {}
    value_labels: dict[str, dict[Any, str]] = {}
    missing: dict[str, list[Any]] = {}
    formats: dict[str, str] = {}
    measures: dict[str, str] = {}
    for c in columns:
        values = data[c.name]
        if c.name in recode:
            frame_columns[c.name] = pd.array(values, dtype="float64")
            value_labels[c.name] = {float(i): lab["da"] for code, lab in c.value_labels
                                    for i in [recode[c.name][code]]}
        elif c.type in ("integer", "number", "boolean"):
            frame_columns[c.name] = pd.array([_number(v) for v in values], dtype="float64")
            if c.value_labels:
                value_labels[c.name] = {float(code): lab["da"] for code, lab in c.value_labels
                                        if isinstance(code, int | float)}
            if c.missing and str(DECLINED) in c.missing.get("en", ""):
                missing[c.name] = [float(DECLINED)]
            if c.type == "integer" or c.type == "boolean":
                formats[c.name] = "F8.0"
        elif c.type in ("date", "datetime"):
            frame_columns[c.name] = pd.Series(
                [_naive(v) for v in values], dtype="datetime64[ns]" if values else "datetime64[ns]")
        else:
            frame_columns[c.name] = pd.Series(["" if v is None else str(v) for v in values], dtype="object")
        measures[c.name] = c.measure
    frame = pd.DataFrame(frame_columns, columns=names)
    pyreadstat.write_sav(
        frame, path,
        column_labels={c.name: c.label["da"][:250] for c in columns},
        variable_value_labels=value_labels or None,
        missing_ranges=missing or None,
        variable_measure=measures,
        variable_format=formats or None,
        note=note or None,
    )


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
