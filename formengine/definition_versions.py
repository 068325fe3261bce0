"""Definition versions in the database: keep a copy of each version responses use; check new ones at load.

- :func:`record_definition` keeps the definition document of a version the
  first time a response is started with it (called by :mod:`formengine.responses`).
- :func:`check_registry` runs when an app starts: for every instrument whose
  stored responses use an older definition version, the new version is
  compared with the stored copy (:func:`~formengine.instruments.versions.breaking_changes`);
  a breaking change without a :class:`~formengine.instruments.versions.Migration`
  refuses the plugin, with a message naming the plugin, the instrument and
  what changed (``formengine plugins`` lists it).
- :func:`comparable` says whether reports may pair two versions' scores.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
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


def version_problems(session: Session, instrument: Instrument, counts: dict[str, int]) -> list[str]:
    """Why ``instrument``'s current definition would misread responses stored under older versions."""
    problems = []
    for version, count in sorted(counts.items()):
        if version == instrument.version:
            continue
        old = stored_definition(session, instrument.id, version)
        if old is None:
            continue  # no copy was kept (responses from before copies were kept): nothing to compare
        changes = breaking_changes(old, instrument.definition, migration_from(instrument, version))
        if changes:
            problems.append(
                f"instrument {instrument.id!r} {instrument.version} would misread {count} stored "
                f"response(s) answered with version {version}: {'; '.join(changes)}. Declare a "
                f"Migration(from_version={version!r}, ...) for them (docs/plugins.md, "
                "\"Changing an instrument\")")
    return problems


def check_registry(session: Session, registry: Any) -> None:
    """Refuse plugins whose new definition versions would misread stored responses (see module doc)."""
    try:
        versions = stored_versions(session)
    except (OperationalError, ProgrammingError) as exc:
        # no schema yet (init-db) or no database reachable: nothing stored can be compared now
        session.rollback()
        log.warning("definition versions not checked: %s", type(exc).__name__)
        return
    refused: dict[str, list[str]] = {}
    for instrument_id, counts in versions.items():
        instrument = registry.instruments.get(instrument_id)
        if instrument is None or set(counts) == {instrument.version}:
            continue
        try:
            problems = version_problems(session, instrument, counts)
        except (OperationalError, ProgrammingError):
            session.rollback()
            return
        if problems:
            refused.setdefault(registry.owner[instrument_id], []).extend(problems)
    for plugin_name, problems in refused.items():
        registry.refuse(plugin_name, problems)
