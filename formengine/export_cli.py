"""``formengine export``: the export page's choices on the command line, streamed to a file or stdout.

For evaluators who script their runs. The same service makes the file
(:func:`formengine.exports.service.build_export`), every export is written to
the audit trail as on the web, and an identifiable export must be asked for
explicitly (``--identifiable``).
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from formengine.exports.service import FORMATS, LAYOUTS


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.UsageError(f"--{name} {value!r} er ikke en dato som 2024-03-01 / "
                               f"is not a date like 2024-03-01") from None


@click.command("export")
@click.option("--layout", type=click.Choice(LAYOUTS), default="long", show_default=True,
              help="long: one row per response; wide: one row per person and subject.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--instrument", "instruments", multiple=True, metavar="ID",
              help="An instrument id (repeat for several). Default: every instrument the layout holds; "
                   "the long layout then gives a ZIP with one file per instrument.")
@click.option("--municipality", "municipalities", multiple=True, metavar="NAME",
              help="Only this municipality (repeat for several). Default: every municipality.")
@click.option("--delimiter", type=click.Choice(("semicolon", "comma", "tab")), default="semicolon",
              show_default=True, help="CSV delimiter; semicolon files use a decimal comma.")
@click.option("--identifiable", is_flag=True,
              help="Case references, person references and birth dates instead of pseudonyms.")
@click.option("--enrolled-from", default=None, metavar="YYYY-MM-DD",
              help="Only families enrolled on or after this day.")
@click.option("--enrolled-to", default=None, metavar="YYYY-MM-DD",
              help="Only families enrolled on or before this day.")
@click.option("--lang", type=click.Choice(("da", "en")), default="da", show_default=True)
@click.option("-o", "--output", default="-", show_default=True,
              type=click.Path(dir_okay=False, allow_dash=True),
              help="Where to write the file; - is standard output.")
@with_appcontext
def export_command(layout: str, fmt: str, instruments: tuple[str, ...], municipalities: tuple[str, ...],
                   delimiter: str, identifiable: bool, enrolled_from: str | None, enrolled_to: str | None,
                   lang: str, output: str) -> None:
    """Write an export (the choices of the export page) to OUTPUT, streamed."""
    from formengine.audit import record
    from formengine.cli import fail
    from formengine.db import get_db
    from formengine.exports.dataset import ExportRequest, scored_instrument_ids
    from formengine.exports.service import ExportError, build_export
    from formengine.exports.writers import DELIMITERS
    from formengine.models import Municipality
    from formengine.registry import get_registry

    registry = get_registry()
    start, end = _day(enrolled_from, "enrolled-from"), _day(enrolled_to, "enrolled-to")
    if start and end and end < start:
        fail("--enrolled-to ligger før --enrolled-from / --enrolled-to is before --enrolled-from")
    for instrument_id in instruments:
        if registry.get(instrument_id) is None:
            fail(f"ukendt instrument / unknown instrument {instrument_id!r}")
    if instruments:
        instrument_ids = tuple(instruments)
    elif layout == "long" or fmt == "fhir":
        instrument_ids = tuple(i.id for i in registry.sorted_instruments())
    else:
        instrument_ids = scored_instrument_ids(registry)
    with get_db().session() as session:
        municipality_ids: tuple[int, ...] | None = None
        if municipalities:
            found = {m.name: m.id for m in session.scalars(
                select(Municipality).where(Municipality.name.in_(municipalities)))}
            unknown = [name for name in municipalities if name not in found]
            if unknown:
                fail(f"ukendt kommune / unknown municipality {', '.join(map(repr, unknown))}")
            municipality_ids = tuple(found[name] for name in municipalities)
        request = ExportRequest(instrument_ids=instrument_ids, municipality_ids=municipality_ids,
                                identifiable=identifiable, enrolled_from=start, enrolled_to=end)
        try:
            export = build_export(session, registry, request, layout=layout, fmt=fmt,
                                  delimiter=DELIMITERS[delimiter], lang=lang)
        except ExportError as exc:
            fail(str(exc))
        detail: dict[str, Any] = {
            "layout": layout, "format": fmt, "identifiable": identifiable,
            "municipality_ids": list(municipality_ids) if municipality_ids is not None else "all",
            "instruments": list(instrument_ids), "file": export.filename,
            "enrolled_from": enrolled_from, "enrolled_to": enrolled_to,
        }
        record(session, "export", "export", ",".join(instrument_ids)[:64], detail,
               municipality_id=municipality_ids[0] if municipality_ids and len(municipality_ids) == 1
               else None, username="command line")
        session.commit()
        if output == "-":
            _write(export.chunks, sys.stdout.buffer)
        else:
            with open(output, "wb") as handle:
                _write(export.chunks, handle)
            click.echo(f"{output}: {export.filename} ({export.mimetype})", err=True)


def _write(chunks: Any, handle: Any) -> None:
    for chunk in chunks:
        handle.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    handle.flush()
