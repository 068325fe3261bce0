"""Scope every query on family data to the signed-in user's municipality."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, select

from formengine.db import db_session
from formengine.models import Response


def scope(statement: Select, model: Any) -> Select:
    """Add the municipality filter for ``model`` (system administrators see all)."""
    if current_user.is_sysadmin:
        return statement
    return statement.where(model.municipality_id == current_user.municipality_id)


def response_or_404(response_uuid: str) -> Response:
    """A response the current user may see, or 404 (never 403: do not confirm it exists)."""
    stmt = scope(select(Response).where(Response.uuid == response_uuid), Response)
    response = db_session().scalar(stmt)
    if response is None:
        abort(404)
    return response
