"""Definition versions: what a new version changes for answers stored under an older one.

A response keeps the definition version it was answered with. When a plugin
ships a new version, stored answers must still read correctly under it. A
change that would misread them — an item removed or renamed, a code removed
or moved to another place on its scale (so it means something else), an item
of another type, a narrower number range — is *breaking*, and the core refuses
the instrument at load unless the plugin declares how old answers map to new
ones with a :class:`Migration`::

    Instrument(definition=v2, score=score, scoring_version="2", migrations=(
        Migration(from_version="1.0.0",
                  renames={"sleep_q1": "sleep_onset"},          # old id -> new id
                  recodes={"sleep_onset": {0: 1, 1: 2, 2: 3, 3: 4}},  # new id -> {old: new}
                  dropped=("sleep_q9",),                       # old items with no counterpart
                  comparable=True),                            # reports may pair 1.0.0 with 2.x
    ))

``comparable`` says whether scores of the two versions measure the same thing,
so that a progression report may pair a response under one with a response
under the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from formengine.instruments.definition import Definition


@dataclass(frozen=True)
class Migration:
    """How answers stored under definition version ``from_version`` read under the plugin's current one."""

    from_version: str
    renames: Mapping[str, str] = field(default_factory=dict)
    recodes: Mapping[str, Mapping[Any, Any]] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    comparable: bool = False

    def apply(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """Old answers as the current version reads them (renamed, recoded, dropped items left out)."""
        out: dict[str, Any] = {}
        for item_id, value in answers.items():
            if item_id in self.dropped:
                continue
            new_id = self.renames.get(item_id, item_id)
            recode = self.recodes.get(new_id)
            if recode is not None and _key(value) in _keys(recode):
                value = _keys(recode)[_key(value)]
            out[new_id] = value
        return out


def _key(value: Any) -> str:
    return repr(value)


def _keys(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    # JSON object keys are strings; a declaration may write codes as ints or strings
    out: dict[str, Any] = {}
    for old, new in mapping.items():
        out[repr(old)] = new
        if isinstance(old, str) and old.lstrip("-").isdigit():
            out[repr(int(old))] = new
    return out


def breaking_changes(old: Definition, new: Definition, migration: Migration | None = None) -> list[str]:
    """What in ``new`` would misread answers stored under ``old`` (after ``migration``), in words."""
    migration = migration or Migration(from_version=old.version)
    problems: list[str] = []
    new_items = new.items_by_id
    for item in old.items:
        old_id = item["id"]
        if old_id in migration.dropped:
            continue
        new_id = migration.renames.get(old_id, old_id)
        target = new_items.get(new_id)
        if target is None:
            problems.append(f"item {old_id!r} was removed" if new_id == old_id
                            else f"item {old_id!r} is renamed to {new_id!r}, which does not exist")
            continue
        old_kind, new_kind = item.get("type", "choice"), target.get("type", "choice")
        if old_kind != new_kind:
            problems.append(f"item {old_id!r} changed type from {old_kind} to {new_kind}")
            continue
        if old_kind == "choice":
            problems.extend(_choice_changes(old, new, item, target, migration))
        elif old_kind == "number":
            problems.extend(_range_changes(item, target))
    return problems


def _choice_changes(old: Definition, new: Definition, item: Mapping[str, Any], target: Mapping[str, Any],
                    migration: Migration) -> list[str]:
    old_codes = [o["code"] for o in old.scale_options(item)]
    new_codes = [o["code"] for o in new.scale_options(target)]
    recode = migration.recodes.get(target["id"])
    if recode is not None:
        mapped = _keys(recode)
        old_codes = [mapped.get(repr(c), c) for c in old_codes]
        missing = [c for c in old_codes if c not in new_codes]
        if missing:
            return [f"item {item['id']!r}: recoded codes {missing} are not codes of the new scale"]
        return []
    missing = [c for c in old_codes if c not in new_codes]
    if missing:
        return [f"item {item['id']!r}: codes {missing} no longer exist (codes now {new_codes})"]
    moved = [c for i, c in enumerate(old_codes) if i >= len(new_codes) or new_codes[i] != c]
    if moved:
        return [f"item {item['id']!r}: codes {moved} moved on the scale (now {new_codes}), "
                "so they would mean something else"]
    return []


def _range_changes(item: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
    problems = []
    low, new_low = item.get("min"), target.get("min")
    high, new_high = item.get("max"), target.get("max")
    if new_low is not None and (low is None or new_low > low):
        problems.append(f"item {item['id']!r}: minimum raised from {low} to {new_low}")
    if new_high is not None and (high is None or new_high < high):
        problems.append(f"item {item['id']!r}: maximum lowered from {high} to {new_high}")
    return problems
