"""Practice fills: a form tried out with no person and no measurement round.

A practice response is one without a wave (``Response.wave_id`` NULL): the
tablet's "Start a practice fill" and the whole-form page make them. They may
only be made for instruments the municipality has enabled, are never
exported, reported or due, and are deleted ``PRACTICE_KEEP_DAYS`` after their
last change -- by ``formengine purge-practice`` (run it daily from cron) and,
for the user's own municipality, each time a practice fill is started.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from formengine.catalogue import available_ids
from formengine.models import Response, Score, utcnow
from formengine.models.alerts import Alert
from formengine.plugins import PluginRegistry

DEFAULT_KEEP_DAYS = 7


def is_practice() -> ColumnElement[bool]:
    """SQL condition: the response is a practice fill."""
    return Response.wave_id.is_(None)


def not_practice() -> ColumnElement[bool]:
    """SQL condition for every reader of real data (exports, reports): not a practice fill."""
    return Response.wave_id.is_not(None)


def practice_instruments(session: Session, registry: PluginRegistry, municipality_id: int | None) -> set[str]:
    """Instrument ids a user of ``municipality_id`` may practise: enabled there and installed."""
    if municipality_id is None:
        return set()
    return available_ids(session, registry, municipality_id)


def purge_practice(session: Session, keep_days: int, *, municipality_id: int | None = None,
                   now: datetime | None = None) -> int:
    """Delete practice responses unchanged for ``keep_days`` (one municipality, or all); return how many.

    Their scores and alerts go with them; the audit trail keeps its record that
    they were made. The caller commits.
    """
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    stmt = select(Response.id).where(is_practice(), Response.updated_at < cutoff)
    if municipality_id is not None:
        stmt = stmt.where(Response.municipality_id == municipality_id)
    ids = list(session.scalars(stmt))
    if not ids:
        return 0
    session.execute(delete(Alert).where(Alert.response_id.in_(ids)))
    session.execute(delete(Score).where(Score.response_id.in_(ids)))
    session.execute(delete(Response).where(Response.id.in_(ids)))
    return len(ids)
