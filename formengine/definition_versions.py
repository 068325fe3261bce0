"""Definition versions in the database: keep a copy of each version responses use; check new ones at load.

- :func:`record_definition` keeps the definition document of a version the
  first time a response is started with it (called by :mod:`formengine.responses`).
- :func:`backfill_definitions` (``formengine init-db``) keeps a copy for
  responses stored before copies were kept.
- :func:`check_registry` runs when an app starts: for every instrument with a
  kept copy of an older definition version, the new version is
  compared with the stored copy (:func:`~formengine.instruments.versions.breaking_changes`);
  a breaking change without a :class:`~formengine.instruments.versions.Migration`
  refuses the plugin, with a message naming the plugin, the instrument and
  what changed (``formengine plugins`` lists it).
- :func:`comparable` says whether reports may pair two versions' scores.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from formengine.instruments import Definition, Instrument
from formengine.instruments.versions import Migration, breaking_changes
from formengine.models import Response
from formengine.models.definitions import DefinitionVersion

log = logging.getLogger(__name__)
_RECORDED = "formengine.recorded_definitions"


def record_definition(session: Session, instrument: Instrument) -> None:
    """Keep a copy of ``instrument``'s definition version, once (safe when two requests race)."""
    key = (instrument.id, instrument.version)
    seen = session.info.setdefault(_RECORDED, set())
    if key in seen:
        return
    exists = session.scalar(select(DefinitionVersion.id).where(
        DefinitionVersion.instrument_id == instrument.id, DefinitionVersion.version == instrument.version))
    if exists is None:
        try:
            with session.begin_nested():
                session.add(DefinitionVersion(instrument_id=instrument.id, version=instrument.version,
                                              definition=instrument.definition.data))
        except IntegrityError:
            pass  # another request recorded it first
    seen.add(key)


def stored_definition(session: Session, instrument_id: str, version: str) -> Definition | None:
    """The stored copy of a definition version, or None when none was kept."""
    data = session.scalar(select(DefinitionVersion.definition).where(
        DefinitionVersion.instrument_id == instrument_id, DefinitionVersion.version == version))
    return Definition(data) if data is not None else None


def definition_for(session: Session, instrument: Instrument, version: str) -> Definition:
    """The definition a response of ``version`` is shown and labelled with (the current one if no copy)."""
    if version == instrument.version:
        return instrument.definition
    return stored_definition(session, instrument.id, version) or instrument.definition


def stored_versions(session: Session) -> dict[str, dict[str, int]]:
    """Instrument id -> {definition version: number of responses} over every stored response."""
    out: dict[str, dict[str, int]] = {}
    stmt = (select(Response.instrument_id, Response.instrument_version, func.count())
            .group_by(Response.instrument_id, Response.instrument_version))
    for instrument_id, version, count in session.execute(stmt):
        out.setdefault(instrument_id, {})[version] = count
    return out


def migration_from(instrument: Instrument, version: str) -> Migration | None:
    return next((m for m in instrument.migrations if m.from_version == version), None)


def comparable(instrument: Instrument, a: str, b: str) -> bool:
    """True when scores of definition versions ``a`` and ``b`` may be paired (the plugin says so)."""
    if a == b:
        return True
    def fits(v: str) -> bool:
        if v == instrument.version:
            return True
        migration = migration_from(instrument, v)
        return migration is not None and migration.comparable
    return fits(a) and fits(b)


def version_problems(session: Session, instrument: Instrument, versions: Iterable[str]) -> list[str]:
    """Why ``instrument``'s current definition would misread responses stored under ``versions``.

    Only a version with a breaking change is looked up among the responses
    (one indexed count), so a check that finds nothing reads no response.
    """
    problems = []
    for version in sorted(versions):
        if version == instrument.version:
            continue
        old = stored_definition(session, instrument.id, version)
        if old is None:
            continue  # no copy was kept: nothing to compare (see backfill_definitions)
        changes = breaking_changes(old, instrument.definition, migration_from(instrument, version))
        if not changes:
            continue
        count = session.scalar(select(func.count()).select_from(Response).where(
            Response.instrument_id == instrument.id, Response.instrument_version == version)) or 0
        if count:
            problems.append(
                f"instrument {instrument.id!r} {instrument.version} would misread {count} stored "
                f"response(s) answered with version {version}: {'; '.join(changes)}. Declare a "
                f"Migration(from_version={version!r}, ...) for them (docs/plugins.md, "
                "\"Changing an instrument\")")
    return problems


def check_registry(session: Session, registry: Any) -> None:
    """Refuse plugins whose new definition versions would misread stored responses (see module doc).

    Runs when an app starts, so it reads only the small table of kept
    definition copies (one row per instrument version ever answered), never
    the responses themselves unless a copy differs in a breaking way.
    """
    try:
        kept = session.execute(select(DefinitionVersion.instrument_id, DefinitionVersion.version)).all()
    except (OperationalError, ProgrammingError) as exc:
        # no schema yet (init-db, the demo's first start) or no database reachable: nothing stored
        # can be compared now; only the second is worth a warning.
        session.rollback()
        try:
            empty = not inspect(session.get_bind()).has_table(DefinitionVersion.__tablename__)
        except (OperationalError, ProgrammingError):
            empty = False
        if empty:
            log.info("definition versions not checked: the database has no tables yet")
        else:
            log.warning("definition versions not checked: %s", type(exc).__name__)
        return
    older: dict[str, set[str]] = {}
    for instrument_id, version in kept:
        instrument = registry.instruments.get(instrument_id)
        if instrument is not None and version != instrument.version:
            older.setdefault(instrument_id, set()).add(version)
    refused: dict[str, list[str]] = {}
    for instrument_id, versions in older.items():
        instrument = registry.instruments[instrument_id]
        try:
            problems = version_problems(session, instrument, versions)
        except (OperationalError, ProgrammingError):
            session.rollback()
            return
        if problems:
            refused.setdefault(registry.owner[instrument_id], []).extend(problems)
    for plugin_name, problems in refused.items():
        registry.refuse(plugin_name, problems)


def backfill_definitions(session: Session, registry: Any) -> list[str]:
    """Keep a definition copy for every version stored responses use that has none yet.

    Responses stored before copies were kept have none. Run by ``formengine
    init-db`` (after upgrading the schema), so it costs the app's start
    nothing. A version the installed plugin still ships is copied from it;
    one it no longer ships cannot be: those are returned as notes (such
    responses are shown with the current version's labels).
    """
    kept = set(session.execute(select(DefinitionVersion.instrument_id, DefinitionVersion.version)).all())
    notes = []
    for instrument_id, counts in sorted(stored_versions(session).items()):
        instrument = registry.instruments.get(instrument_id)
        for version, count in sorted(counts.items()):
            if (instrument_id, version) in kept:
                continue
            if instrument is not None and instrument.version == version:
                record_definition(session, instrument)
                continue
            notes.append(f"{instrument_id} {version}: {count} stored response(s), but no copy of that "
                         "definition version is kept and no installed plugin ships it; they are shown "
                         "and exported with the current version's labels")
    return notes
