"""One entry point for every export: choose layout and format, get a file name, a type and the content.

Used by the web download and the benchmark. Text formats stream; XLSX and
SPSS are written to a temporary file first (their formats need the whole
file), which is then streamed and deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from formengine.exports import fhir
from formengine.exports.dataset import (
    ExportRequest,
    iter_long_rows,
    iter_wide_rows,
    long_columns,
    wide_columns,
)
from formengine.exports.writers import (
    MissingPackages,
    codebook_csv,
    csv_chunks,
    file_chunks,
    missing_packages,
    temp_path,
    write_sav,
    write_xlsx,
)
from formengine.plugins import PluginRegistry

LAYOUTS = ("long", "wide")
FORMATS = ("csv", "codebook", "xlsx", "sav", "fhir")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportError(ValueError):
    """The export cannot be made as asked (unknown instrument, layout or format)."""


class FormatUnavailable(ExportError):
    """The format needs packages this installation lacks; ``missing`` names them and the extra."""

    def __init__(self, missing: MissingPackages) -> None:
        self.missing = missing
        super().__init__(str(missing))


@dataclass
class ExportFile:
    filename: str
    mimetype: str
    chunks: Iterator[str] | Iterator[bytes]


def build_export(session: Session, registry: PluginRegistry, request: ExportRequest, *, layout: str,
                 fmt: str, delimiter: str = ";", lang: str = "da") -> ExportFile:
    """Prepare an export; the content is produced lazily while it is sent."""
    if layout not in LAYOUTS:
        raise ExportError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    missing = missing_packages(fmt)
    if missing is not None:
        raise FormatUnavailable(missing)
    instruments = []
    for instrument_id in request.instrument_ids:
        instrument = registry.get(instrument_id)
        if instrument is None:
            raise ExportError(f"unknown instrument {instrument_id!r}")
        instruments.append(instrument)
    if not instruments:
        raise ExportError("choose at least one instrument")
    stem = f"formengine-{layout}-{'-'.join(request.instrument_ids) if len(instruments) < 4 else 'all'}"
    stem += f"-{date.today().isoformat()}" + ("-identifiable" if request.identifiable else "")
    if fmt == "fhir":
        return ExportFile(stem.replace(f"-{layout}", "-fhir") + ".ndjson", "application/fhir+ndjson",
                          fhir.ndjson(session, instruments, request, lang))
    if layout == "long":
        if len(instruments) != 1:
            raise ExportError("the long layout holds one instrument at a time")
        columns = long_columns(instruments[0], request.identifiable)
        rows = iter_long_rows(session, instruments[0], request)
    else:
        columns = wide_columns(session, registry, request)
        rows = iter_wide_rows(session, registry, request, columns)
    if fmt == "codebook":
        return ExportFile(stem + "-codebook.csv", "text/csv; charset=utf-8", codebook_csv(columns, delimiter))
    if fmt == "csv":
        chunks = csv_chunks([c.name for c in columns], rows, delimiter, columns)
        return ExportFile(stem + ".csv", "text/csv; charset=utf-8", chunks)
    if fmt == "xlsx":
        path = temp_path(".xlsx")
        write_xlsx(path, columns, rows)
        return ExportFile(stem + ".xlsx", XLSX_TYPE, file_chunks(path))
    path = temp_path(".sav")
    versions = "; ".join(f"{i.id} {i.version} (scoring {i.scoring_version})" for i in instruments)
    write_sav(path, columns, rows, note=f"formengine export, {layout} layout: {versions}")
    return ExportFile(stem + ".sav", "application/x-spss-sav", file_chunks(path))
