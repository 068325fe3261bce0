"""Dates and times as a Danish municipality lives them.

Times are stored in UTC (:func:`formengine.models.base.utcnow`); "today" (what
is due, ages, default dates on forms, names of export files) and every time
shown on a page are in the installation's time zone, ``TIMEZONE`` in the
configuration (default Europe/Copenhagen). So at half past midnight in
Denmark the due list already shows the new day, and the audit trail shows the
hour an administrator remembers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Europe/Copenhagen"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    """The installation's time zone (the app's ``TIMEZONE``; the default outside an app)."""
    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return _zone(name or DEFAULT_TIMEZONE)


def today() -> date:
    """Today's date in the installation's time zone."""
    return datetime.now(zone()).date()


def local(moment: datetime | None) -> datetime | None:
    """A stored moment in the installation's time zone (a moment without a zone is UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone())


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored moment as local time text for a page ("" for none); the template filter ``local_time``."""
    shown = local(moment)
    return shown.strftime(fmt) if shown is not None else ""


def local_date(moment: datetime | None) -> date | None:
    """The local date of a stored moment (the day a form was submitted, as the team saw it)."""
    shown = local(moment)
    return shown.date() if shown is not None else None


__all__ = ["DEFAULT_TIMEZONE", "local", "local_date", "local_time", "today", "zone"]
