"""A municipality's instrument catalogue and its measurement plan (stored in ``PlanRule``).

An instrument is *available* to a municipality when it is both enabled for it
and installed (its plugin loaded). Disabling only hides it from the plan and
the forms; collected responses stay untouched.

The plan is seeded from the plugins' ``formengine_default_plan`` hook the first
time a municipality is used, then belongs to the municipality: its
administrators edit it, and a later plugin update does not change it.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from formengine import audit
from formengine.models import InstrumentSetting, Municipality, PlanRule, utcnow
from formengine.plan import Rule, Schedule, rules_from_dicts
from formengine.plugins import PluginRegistry

log = logging.getLogger(__name__)

SEEDED_KEY = "plan_seeded"


class CatalogueError(ValueError):
    """A catalogue or plan change was refused; nothing was changed."""


def default_plan(registry: PluginRegistry) -> list[Rule]:
    """The rules every loaded plugin proposes, in plugin order, without duplicates."""
    rows: list[Any] = []
    # A plugin whose hook raises proposes nothing (logged with its name); the others still count.
    results, _failures = registry.call_guarded("formengine_default_plan")
    for plugin, result in results:
        try:
            rows.extend(result)
        except TypeError:
            log.warning("default plan: plugin %s returned %s, not rules", plugin, type(result).__name__)
    rules, problems = rules_from_dicts(rows)
    for problem in problems:
        log.warning("default plan: %s", problem)  # plugin data only, never personal data
    unique: list[Rule] = []
    for rule in rules:
        if rule not in unique:
            unique.append(rule)
    return unique


def enabled_ids(session: Session, municipality_id: int) -> set[str]:
    """Instrument ids enabled for the municipality (installed or not)."""
    return set(session.scalars(select(InstrumentSetting.instrument_id).where(
        InstrumentSetting.municipality_id == municipality_id, InstrumentSetting.enabled.is_(True))))


def available_ids(session: Session, registry: PluginRegistry, municipality_id: int) -> set[str]:
    """Enabled for the municipality and installed: what the plan and the forms may use."""
    return {i for i in enabled_ids(session, municipality_id) if registry.get(i) is not None}


def set_enabled(session: Session, registry: PluginRegistry, municipality: Municipality,
                instrument_id: str, enabled: bool, *, user: Any = None,
                username: str | None = None) -> InstrumentSetting:
    """Enable or disable an instrument for a municipality (recorded in the audit trail).

    Enabling needs the instrument to be installed; disabling works for any
    instrument ever enabled and never touches collected responses.
    """
    setting = session.scalar(select(InstrumentSetting).where(
        InstrumentSetting.municipality_id == municipality.id,
        InstrumentSetting.instrument_id == instrument_id))
    if enabled and registry.get(instrument_id) is None:
        raise CatalogueError(f"instrument {instrument_id!r} is not installed")
    if setting is None:
        if not enabled and registry.get(instrument_id) is None:
            raise CatalogueError(f"instrument {instrument_id!r} is not installed")
        setting = InstrumentSetting(municipality_id=municipality.id, instrument_id=instrument_id)
        session.add(setting)
    setting.enabled = enabled
    setting.changed_at = utcnow()
    setting.changed_by = getattr(user, "id", None)
    audit.record(session, "enable" if enabled else "disable", "instrument", instrument_id,
                 user=user, municipality_id=municipality.id, username=username)
    session.flush()
    return setting


def ensure_plan(session: Session, registry: PluginRegistry, municipality: Municipality) -> None:
    """Seed the municipality's plan from the default plan, once."""
    if (municipality.settings or {}).get(SEEDED_KEY):
        return
    existing = session.scalar(select(PlanRule.id).where(PlanRule.municipality_id == municipality.id).limit(1))
    if existing is None:
        for rule in default_plan(registry):
            session.add(_row(municipality.id, rule))
    municipality.settings = {**(municipality.settings or {}), SEEDED_KEY: True}
    session.flush()


def _row(municipality_id: int, rule: Rule) -> PlanRule:
    return PlanRule(
        municipality_id=municipality_id, instrument_id=rule.instrument_id,
        respondent_role=rule.respondent_role, about=rule.about, min_age=rule.min_age,
        max_age=rule.max_age, waves=list(rule.waves), options={"filled_by": rule.filled_by},
    )


def to_rule(row: PlanRule) -> Rule:
    return Rule(
        instrument_id=row.instrument_id, respondent_role=row.respondent_role, about=row.about,
        min_age=row.min_age, max_age=row.max_age, waves=tuple(row.waves or ()),
        filled_by=(row.options or {}).get("filled_by", "respondent"),
    )


def plan_rows(session: Session, municipality_id: int) -> list[PlanRule]:
    return list(session.scalars(select(PlanRule).where(PlanRule.municipality_id == municipality_id)
                                .order_by(PlanRule.id)))


def plan_rules(session: Session, registry: PluginRegistry, municipality: Municipality) -> list[Rule]:
    """The municipality's plan (seeded on first use); rows that no longer validate are skipped."""
    ensure_plan(session, registry, municipality)
    rules = []
    for row in plan_rows(session, municipality.id):
        try:
            rules.append(to_rule(row))
        except ValueError as exc:
            log.warning("plan rule %s skipped: %s", row.id, exc)
    return rules


def add_rule(session: Session, municipality: Municipality, rule: Rule, *, user: Any = None) -> PlanRule:
    """Add one rule to the municipality's plan (audited)."""
    row = _row(municipality.id, rule)
    session.add(row)
    session.flush()
    audit.record(session, "create", "plan_rule", row.id, rule.to_dict(), user=user,
                 municipality_id=municipality.id)
    return row


def remove_rule(session: Session, municipality: Municipality, rule_id: int, *, user: Any = None) -> None:
    """Remove one rule from the municipality's plan (audited); an unknown id is refused."""
    row = session.scalar(select(PlanRule).where(PlanRule.id == rule_id,
                                                PlanRule.municipality_id == municipality.id))
    if row is None:
        raise CatalogueError("no such plan rule")
    audit.record(session, "delete", "plan_rule", row.id, to_rule(row).to_dict(), user=user,
                 municipality_id=municipality.id)
    session.execute(delete(PlanRule).where(PlanRule.id == row.id))


def reset_plan(session: Session, registry: PluginRegistry, municipality: Municipality, *,
               user: Any = None) -> None:
    """Replace the municipality's plan with the current default plan (audited)."""
    session.execute(delete(PlanRule).where(PlanRule.municipality_id == municipality.id))
    for rule in default_plan(registry):
        session.add(_row(municipality.id, rule))
    municipality.settings = {**(municipality.settings or {}), SEEDED_KEY: True}
    audit.record(session, "change", "plan", municipality.id, {"reset": True}, user=user,
                 municipality_id=municipality.id)
    session.flush()


def schedule_for(municipality: Municipality) -> Schedule:
    """The municipality's interval and tolerance window (defaults when unset or invalid)."""
    try:
        return Schedule.from_settings(municipality.settings)
    except (ValueError, TypeError):
        return Schedule()


def municipality_start(municipality: Municipality) -> date:
    """When the municipality's own rounds (e.g. fidelity) start: a setting, else its creation date."""
    raw = (municipality.settings or {}).get("rounds_start")
    if raw:
        try:
            return date.fromisoformat(raw)
        except (TypeError, ValueError):
            pass
    return municipality.created_at.date()
