"""Reading and changing a municipality's plugin settings (no Flask here)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine import audit
from formengine.instruments import Instrument
from formengine.models import PluginSettingValue, utcnow

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A settings change was refused; nothing was changed."""


def options_for(session: Session, instrument: Instrument, municipality_id: int | None) -> dict[str, Any]:
    """The options scoring sees: each declared setting's default, overlaid by the municipality's values.

    A stored value the plugin no longer accepts (its choices changed) is
    ignored in favour of the default, and logged (names only).
    """
    options = {s.name: s.default for s in instrument.settings}
    if municipality_id is None or not instrument.settings:
        return options
    declared = {s.name: s for s in instrument.settings}
    for row in session.scalars(select(PluginSettingValue).where(
            PluginSettingValue.municipality_id == municipality_id,
            PluginSettingValue.instrument_id == instrument.id)):
        setting = declared.get(row.name)
        if setting is not None and setting.accepts(row.value):
            options[row.name] = row.value
        elif setting is not None:
            log.warning("setting %s of %s: stored value no longer accepted; using the default",
                        row.name, instrument.id)
    return options


def save_settings(session: Session, instrument: Instrument, municipality_id: int,
                  values: Mapping[str, Any], *, user: Any) -> dict[str, Any]:
    """Store the municipality's values (all checked first; one bad value changes nothing); audited."""
    declared = {s.name: s for s in instrument.settings}
    for name, value in values.items():
        setting = declared.get(name)
        if setting is None:
            raise SettingsError(f"{instrument.id} has no setting {name!r}")
        if not setting.accepts(value):
            raise SettingsError(f"{name}: {value!r} is not one of "
                                + ", ".join(repr(code) for code, _label in setting.choices))
    rows = {row.name: row for row in session.scalars(select(PluginSettingValue).where(
        PluginSettingValue.municipality_id == municipality_id,
        PluginSettingValue.instrument_id == instrument.id))}
    changed = {}
    for name, value in values.items():
        row = rows.get(name)
        if row is None:
            row = PluginSettingValue(municipality_id=municipality_id, instrument_id=instrument.id, name=name)
            session.add(row)
        elif row.value == value:
            continue
        row.value = value
        row.changed_at = utcnow()
        row.changed_by = getattr(user, "id", None)
        changed[name] = value
    if changed:
        audit.record(session, "update", "plugin_settings", instrument.id, {"changed": changed},
                     user=user, municipality_id=municipality_id)
    return options_for(session, instrument, municipality_id)
