"""Who may see what: the one guard module every view uses.

Every query on family data goes through :func:`scope`, so another
municipality's record is "not found" (404), never "forbidden" -- a 404 does
not confirm that it exists. Administrator pages use :func:`admin_required`
(or :func:`require_admin` inside a view); the municipality a page works on
comes from :func:`own_municipality` / :func:`administered_municipality`; the
interface language from :func:`ui_lang`.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import abort, current_app, g, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from formengine.db import db_session, load_plain
from formengine.models import Family, Municipality, Person, Response, Wave
from formengine.practice import practice_instruments, purge_practice
from formengine.registry import get_registry
from formengine.web import params


def select_locale() -> str:
    """Session choice first (a respondent may answer in English), then the user's, then Danish."""
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if current_user and getattr(current_user, "is_authenticated", False):
        if current_user.language in languages:
            return current_user.language
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def ui_lang() -> str:
    """The interface language of this request (``da`` unless the user or respondent chose another)."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


# -- administrators ------------------------------------------------------------------

def require_admin() -> None:
    """403 unless the signed-in user is a system or municipality administrator."""
    if not current_user.is_admin:
        abort(403)


def admin_required(view):
    """Decorator: signed in as a system or municipality administrator, else 403."""
    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any):
        require_admin()
        return view(*args, **kwargs)
    return wrapper


# -- municipality scoping --------------------------------------------------------------

def scope(statement: Select, model: Any) -> Select:
    """Add the municipality filter for ``model`` (system administrators see all)."""
    if current_user.is_sysadmin:
        return statement
    return statement.where(model.municipality_id == current_user.municipality_id)


def administered_municipality() -> Municipality | None:
    """The municipality a page works on: the user's own, or the one a system administrator chose.

    A system administrator chooses with ``?municipality=<id>`` (or a form field of
    that name); ``None`` when they have not chosen yet. An unknown id is a 404.
    """
    session = db_session()
    if current_user.is_sysadmin:
        municipality_id = params.identifier("municipality")
        if municipality_id is None:
            return None
        municipality = session.get(Municipality, municipality_id)
    else:
        municipality = session.get(Municipality, current_user.municipality_id)
    if municipality is None:
        abort(404)
    return municipality


def own_municipality() -> Municipality:
    """As :func:`administered_municipality`, but a system administrator must have chosen (else 404)."""
    municipality = administered_municipality()
    if municipality is None:
        abort(404)
    return municipality


def municipality_choices() -> list[Municipality]:
    """Municipalities the user may report on or export from."""
    stmt = select(Municipality).order_by(Municipality.name)
    if not current_user.is_sysadmin:
        stmt = stmt.where(Municipality.id == current_user.municipality_id)
    return list(db_session().scalars(stmt))


def municipality_scope(source: Any = None) -> tuple[int, ...] | None:
    """The municipality ids a report or export covers (``None``: all, for a system administrator only).

    Read from the ``municipality`` parameter of ``source`` (default: the request's
    values); anyone but a system administrator always gets their own.
    """
    if not current_user.is_sysadmin:
        return (current_user.municipality_id,)
    municipality_id = params.identifier("municipality", source)
    if municipality_id is None:
        return None
    if db_session().get(Municipality, municipality_id) is None:
        abort(404)
    return (municipality_id,)


def require_practice_allowed(instrument_id: str) -> None:
    """403 unless the user's municipality has enabled ``instrument_id``; tidies old practice fills.

    Practice fills and whole-form submissions (no person, no round) are only for
    enabled instruments. Each start also deletes the municipality's practice
    fills older than ``PRACTICE_KEEP_DAYS`` (``formengine purge-practice`` does
    it for every municipality).
    """
    session = db_session()
    allowed = practice_instruments(session, get_registry(), current_user.municipality_id)
    if instrument_id not in allowed:
        abort(403, _("This instrument is not enabled for your municipality."))
    purge_practice(session, int(current_app.config["PRACTICE_KEEP_DAYS"]),
                   municipality_id=current_user.municipality_id)


# -- scoped lookups ------------------------------------------------------------------

def _scoped_or_404(model: Any, *where: Any) -> Any:
    row = db_session().scalar(scope(select(model).where(*where), model))
    if row is None:
        abort(404)
    return row


_PREFETCHED = "formengine_prefetched_response"


def prefetch_response(response_uuid: str, municipality_id: int | None, response: Response | None) -> None:
    """Keep for :func:`response_or_404` the response ``response_uuid`` of ``municipality_id`` (None: none).

    Called by the user loader, which reads a stepper request's response with
    the signed-in user in one query.
    """
    setattr(g, _PREFETCHED, (response_uuid, municipality_id, response))


def response_or_404(response_uuid: str) -> Response:
    """A response the current user may see, or 404."""
    if not params.is_uuid(response_uuid):
        abort(404)
    user = current_user._get_current_object()
    if user.is_sysadmin or user.municipality_id is None:
        return _scoped_or_404(Response, Response.uuid == response_uuid)
    prefetched = g.get(_PREFETCHED)
    if prefetched is not None and prefetched[0] == response_uuid and prefetched[1] == user.municipality_id:
        # Read with the signed-in user, with the same condition as below.
        row = prefetched[2]
    else:
        # Every stepper request's lookup: the same condition as scope() adds, in one plain query.
        row = load_plain(db_session(), Response, {"uuid": response_uuid,
                                                  "municipality_id": user.municipality_id})
    if row is None:
        abort(404)
    return row


def family_or_404(family_id: int) -> Family:
    if not 0 < family_id <= params.MAX_ID:
        abort(404)
    return _scoped_or_404(Family, Family.id == family_id)


def person_or_404(person_id: int) -> Person:
    if not 0 < person_id <= params.MAX_ID:
        abort(404)
    return _scoped_or_404(Person, Person.id == person_id)


def wave_or_404(wave_id: int) -> Wave:
    if not 0 < wave_id <= params.MAX_ID:
        abort(404)
    return _scoped_or_404(Wave, Wave.id == wave_id)
