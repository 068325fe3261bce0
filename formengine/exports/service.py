"""One entry point for every export: choose layout and format, get a file name, a type and the content.

Used by the web download, ``formengine export`` and the benchmark. Text
formats stream; XLSX, SPSS and Stata are written to a temporary file first
(their formats need the whole file), which is then streamed and deleted.
The long layout holds one instrument per file: asked for several, it gives a
ZIP with one file per instrument in the chosen format.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from formengine import clock
from formengine.exports import fhir
from formengine.exports.dataset import (
    ExportRequest,
    iter_long_rows,
    iter_wide_rows,
    long_layout,
    wide_columns,
)
from formengine.exports.writers import (
    MissingPackages,
    codebook_csv,
    csv_chunks,
    file_chunks,
    missing_packages,
    temp_path,
    write_dta,
    write_sav,
    write_xlsx,
)
from formengine.plugins import PluginRegistry

LAYOUTS = ("long", "wide")
FORMATS = ("csv", "codebook", "xlsx", "sav", "dta", "fhir")
CSV_TYPE = "text/csv; charset=utf-8"
ZIP_TYPE = "application/zip"
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
    stem += f"-{clock.today().isoformat()}" + ("-identifiable" if request.identifiable else "")
    if fmt == "fhir":
        if request.enrolled_from or request.enrolled_to:
            raise ExportError("the FHIR export has no enrolment period filter; export every family")
        return ExportFile(stem.replace(f"-{layout}", "-fhir") + ".ndjson", "application/fhir+ndjson",
                          fhir.ndjson(session, instruments, request, lang))
    if layout == "long":
        if len(instruments) != 1:
            return _long_zip(session, registry, request, fmt, delimiter, lang, stem)
        columns = long_layout(session, instruments[0], request)
        rows = iter_long_rows(session, instruments[0], request, columns)
    else:
        columns = wide_columns(session, registry, request)
        rows = iter_wide_rows(session, registry, request, columns)
    if fmt == "codebook":
        return ExportFile(stem + "-codebook.csv", CSV_TYPE, codebook_csv(columns, delimiter))
    if fmt == "csv":
        chunks = csv_chunks([c.name for c in columns], rows, delimiter, columns)
        return ExportFile(stem + ".csv", CSV_TYPE, chunks)
    if fmt == "xlsx":
        path = temp_path(".xlsx")
        write_xlsx(path, columns, rows)
        return ExportFile(stem + ".xlsx", XLSX_TYPE, file_chunks(path))
    versions = "; ".join(f"{i.id} {i.version} (scoring {i.scoring_version})" for i in instruments)
    note = f"formengine export, {layout} layout: {versions}"
    if fmt == "dta":
        path = temp_path(".dta")
        write_dta(path, columns, rows, note=note)
        return ExportFile(stem + ".dta", "application/x-stata-dta", file_chunks(path))
    path = temp_path(".sav")
    write_sav(path, columns, rows, note=note)
    return ExportFile(stem + ".sav", "application/x-spss-sav", file_chunks(path))


def _long_zip(session: Session, registry: PluginRegistry, request: ExportRequest, fmt: str,
              delimiter: str, lang: str, stem: str) -> ExportFile:
    """The long layout for several instruments: a ZIP with each instrument's file (written, then streamed)."""
    path = temp_path(".zip")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for instrument_id in request.instrument_ids:
            one = ExportRequest(instrument_ids=(instrument_id,), municipality_ids=request.municipality_ids,
                                identifiable=request.identifiable)
            export = build_export(session, registry, one, layout="long", fmt=fmt, delimiter=delimiter,
                                  lang=lang)
            with archive.open(export.filename, "w") as member:
                for chunk in export.chunks:
                    member.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    return ExportFile(stem + f"-{fmt}.zip", ZIP_TYPE, file_chunks(path))
