"""Norm packs: licensed norm data (conversion tables, cut-offs) a municipality installs.

A norm pack is ``<NORMS_DIR>/<instrument_id>.json`` (``NORMS_DIR`` defaults to
``instance/norms``)::

    {
      "source": "KIDSCREEN manual (2006), table for the child version; licence ...",
      "instrument": "kidscreen10_child",                      (optional, checked)
      "lookups": {"t_value": {"from": "raw", "table": {"10": 17.36, "11": 21.02, ...}}},
      "bands": {"offences": [{"band": "low", "min": 0, "max": 0}, ...]}
    }

Everything is checked against the instrument's declared scores, so the core
needs no instrument knowledge:

- a lookup's key and ``from`` are declared score names; the table has one
  number for every whole value of the ``from`` score between its declared
  ``min`` and ``max`` (keys written as strings), and nothing else; values lie
  within the target score's declared range, if it has one;
- a band list belongs to a declared score; its band codes are ones the score
  declares; the ranges are whole numbers, do not overlap and cover the
  score's declared range without gaps.

A pack is read once per application (cached in ``app.extensions``). A pack
that fails validation is refused with an error naming the problem and never
used: scoring then sees no norms and flags ``no_norm_table`` where it needs one.
Scoring receives the validated document unchanged as ``ScoringContext.norms``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from formengine.instruments import Definition
from formengine.registry import cached_extension, instrument_definitions

log = logging.getLogger(__name__)

EXTENSION_KEY = "formengine.norms"
PACK_NAME = re.compile(r"^(?P<instrument>[a-z][a-z0-9_]{0,25})\.json$")
ALLOWED_KEYS = {"source", "instrument", "format", "lookups", "bands", "note"}


class NormPackError(ValueError):
    """A norm pack that cannot be used; the message names the file and the problem."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return _number(value) and float(value).is_integer()


def validate_norms(definition: Definition, data: Any, where: str = "") -> dict[str, Any]:
    """Check a parsed norm pack against ``definition`` and return it.

    Raises :class:`NormPackError` naming the first problem.
    """
    where = where or f"{definition.id}.json"
    if not isinstance(data, dict):
        raise NormPackError(f"{where}: a norm pack must be a JSON object")
    unknown = sorted(set(data) - ALLOWED_KEYS)
    if unknown:
        raise NormPackError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if not isinstance(data.get("source"), str) or not data["source"].strip():
        raise NormPackError(f"{where}: \"source\" (where the norms come from, under which licence) "
                            "is required")
    if "instrument" in data and data["instrument"] != definition.id:
        raise NormPackError(f"{where}: \"instrument\" is {data['instrument']!r} but the file is for "
                            f"{definition.id!r}")
    if not data.get("lookups") and not data.get("bands"):
        raise NormPackError(f"{where}: the pack has neither \"lookups\" nor \"bands\"")

    specs = {spec["name"]: spec for spec in definition.scores}
    lookups = data.get("lookups", {})
    if not isinstance(lookups, dict):
        raise NormPackError(f"{where}: \"lookups\" must be an object of score name -> lookup")
    for target, lookup in lookups.items():
        _check_lookup(where, specs, target, lookup)
    bands = data.get("bands", {})
    if not isinstance(bands, dict):
        raise NormPackError(f"{where}: \"bands\" must be an object of score name -> list of ranges")
    for name, ranges in bands.items():
        _check_bands(where, specs, name, ranges)
    return data


def _range_of(where: str, spec: Mapping[str, Any], role: str) -> range:
    low: Any = spec.get("min")  # JSON values; _whole() checks them
    high: Any = spec.get("max")
    if not (_whole(low) and _whole(high)):
        raise NormPackError(f"{where}: score {spec['name']!r} has no whole-number min/max, "
                            f"so it cannot be {role}")
    return range(int(low), int(high) + 1)


def _check_lookup(where: str, specs: Mapping[str, Any], target: str, lookup: Any) -> None:
    if target not in specs:
        raise NormPackError(f"{where}: lookup for unknown score {target!r}")
    if not isinstance(lookup, dict) or set(lookup) != {"from", "table"}:
        raise NormPackError(f"{where}: lookup {target!r} must be {{\"from\": score, \"table\": {{...}}}}")
    source = lookup["from"]
    if source not in specs or source == target:
        raise NormPackError(f"{where}: lookup {target!r} is from unknown score {source!r}")
    table = lookup["table"]
    if not isinstance(table, dict):
        raise NormPackError(f"{where}: the table of lookup {target!r} must be an object of value -> number")
    expected = {str(v) for v in _range_of(where, specs[source], "looked up")}
    extra = sorted(set(table) - expected, key=lambda k: (len(k), k))
    if extra:
        raise NormPackError(f"{where}: lookup {target!r} has value(s) {', '.join(extra)} outside "
                            f"{source} {specs[source]['min']}-{specs[source]['max']}")
    lacking = sorted(expected - set(table), key=int)
    if lacking:
        raise NormPackError(f"{where}: lookup {target!r} lacks {source} value(s) {', '.join(lacking)}")
    spec = specs[target]
    for key, value in table.items():
        if not _number(value):
            raise NormPackError(f"{where}: lookup {target!r} at {key}: {json.dumps(value)} is not a number")
        if ("min" in spec and value < spec["min"]) or ("max" in spec and value > spec["max"]):
            raise NormPackError(f"{where}: lookup {target!r} at {key}: {value} is outside the range of "
                                f"{target}")


def _check_bands(where: str, specs: Mapping[str, Any], name: str, ranges: Any) -> None:
    if name not in specs:
        raise NormPackError(f"{where}: bands for unknown score {name!r}")
    codes = set(specs[name].get("bands", {}))
    if not isinstance(ranges, list) or not ranges:
        raise NormPackError(f"{where}: bands of {name!r} must be a non-empty list")
    covered: list[int] = []
    for index, entry in enumerate(ranges):
        here = f"{where}: bands of {name!r} entry {index + 1}"
        if not isinstance(entry, dict) or set(entry) != {"band", "min", "max"}:
            raise NormPackError(f"{here} must be {{\"band\": code, \"min\": n, \"max\": n}}")
        if entry["band"] not in codes:
            allowed = ", ".join(sorted(codes)) or "none declared"
            raise NormPackError(f"{here}: band {entry['band']!r} is not a band of {name} ({allowed})")
        if not (_whole(entry["min"]) and _whole(entry["max"])) or entry["min"] > entry["max"]:
            raise NormPackError(f"{here}: min and max must be whole numbers with min <= max")
        covered.extend(range(int(entry["min"]), int(entry["max"]) + 1))
    if len(covered) != len(set(covered)):
        raise NormPackError(f"{where}: bands of {name!r} overlap")
    lacking = sorted(set(_range_of(where, specs[name], "banded")) - set(covered))
    if lacking:
        raise NormPackError(f"{where}: bands of {name!r} leave value(s) {', '.join(map(str, lacking))} "
                            "without a band")
    outside = sorted(set(covered) - set(_range_of(where, specs[name], "banded")))
    if outside:
        raise NormPackError(f"{where}: bands of {name!r} reach outside the score's range "
                            f"({', '.join(map(str, outside))})")


@dataclass
class NormStatus:
    """One norm pack file: loaded, or refused with its error."""

    instrument_id: str
    path: Path
    source: str | None = None
    sha256: str | None = None
    error: str | None = None


@dataclass
class NormPacks:
    """Every norm pack found in NORMS_DIR for one application."""

    directory: Path
    packs: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: list[NormStatus] = field(default_factory=list)

    def get(self, instrument_id: str) -> dict[str, Any] | None:
        """The validated norm data for an instrument, or None when none is installed (or it was refused)."""
        return self.packs.get(instrument_id)


def load_norm_packs(directory: Path, definitions: Mapping[str, Definition]) -> NormPacks:
    """Read and validate every ``*.json`` norm pack in ``directory``; a bad pack is listed, not raised."""
    result = NormPacks(directory=directory)
    if not directory.is_dir():
        return result
    for path in sorted(directory.glob("*.json")):
        match = PACK_NAME.match(path.name)
        status = NormStatus(match["instrument"] if match else "?", path)
        result.statuses.append(status)
        try:
            if not match:
                raise NormPackError(f"{path.name}: the file name must be <instrument_id>.json")
            definition = definitions.get(status.instrument_id)
            if definition is None:
                raise NormPackError(f"{path.name}: no installed instrument {status.instrument_id!r}")
            raw = path.read_bytes()
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise NormPackError(f"{path.name}: not valid UTF-8 JSON ({exc})") from exc
            validate_norms(definition, data, path.name)
        except OSError as exc:
            status.error = f"{path.name}: cannot read ({exc.strerror or exc})"
        except NormPackError as exc:
            status.error = str(exc)
        else:
            status.source = data["source"]
            status.sha256 = hashlib.sha256(raw).hexdigest()
            result.packs[status.instrument_id] = data
        if status.error:
            log.warning("norm pack refused: %s", status.error)
    return result


def norm_packs(app: Flask) -> NormPacks:
    """The app's norm packs, read and validated on first use and cached in ``app.extensions``."""
    return cached_extension(
        app, EXTENSION_KEY,
        lambda: load_norm_packs(Path(app.config["NORMS_DIR"]), instrument_definitions(app)),
    )
