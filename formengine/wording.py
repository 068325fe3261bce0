"""Wording packs: the licensed, official wording of an instrument, installed by a municipality.

A pack is a JSON file ``<TEXTS_DIR>/<instrument_id>.<lang>.json`` (``TEXTS_DIR``
defaults to ``instance/texts``)::

    {
      "source": "Official Danish wording, licence 2026-123 (Youthinmind)",
      "items": {"consid": "…", "restles": "…"},
      "options": {"sdq3": {"0": "…", "1": "…", "2": "…"}},
      "title": "…",            (optional)
      "instructions": "…"      (optional)
    }

``options`` is keyed by the definition's scale name, then by the option code
written as a string. Packs are read and validated once per application (cached
in ``app.extensions``), never per request. Validation:

- not JSON, not an object, no ``source``, a text that is not a non-empty string,
  an unknown item id, scale or option code: the pack is refused with an error
  naming the problem, and the form falls back to the project labels;
- an item or option the pack lacks: a warning, and that one text falls back to
  the project label.

The wording a response was answered with is ``texts.record()``: for a pack
``{"kind": "wording_pack", "source": …, "sha256": <of the file's bytes>, "lang": …}``,
otherwise ``{"kind": "project_labels"}``. docs/wording-and-norm-packs.md
describes the format for administrators.
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

from formengine.instruments import Definition, text
from formengine.instruments.definition import LANGUAGES, iter_items
from formengine.registry import cached_extension, instrument_definitions
from formengine.texts import ProjectLabels, TextSource

log = logging.getLogger(__name__)

EXTENSION_KEY = "formengine.wording"
PACK_NAME = re.compile(r"^(?P<instrument>[a-z][a-z0-9_]{0,25})\.(?P<lang>[a-z]{2})\.json$")
ALLOWED_KEYS = {"source", "items", "options", "title", "instructions", "format", "instrument", "lang"}


class WordingPackError(ValueError):
    """A wording pack that cannot be used; the message names the file and the problem."""


class WordingPack:
    """The official wording of one instrument in one language (same interface as ProjectLabels).

    Texts the pack lacks, and any language other than the pack's own, fall
    back to the definition's project labels.
    """

    official = True

    def __init__(self, definition: Definition, lang: str, data: Mapping[str, Any],
                 sha256: str, path: Path | None = None):
        self.definition = definition
        self.lang = lang
        self.source: str = data["source"]
        self.sha256 = sha256
        self.path = path
        self.items: dict[str, str] = dict(data.get("items", {}))
        self.options: dict[str, dict[str, str]] = {k: dict(v) for k, v in data.get("options", {}).items()}
        self.title_text: str | None = data.get("title")
        self.instructions_text: str | None = data.get("instructions")
        self.fallback = ProjectLabels(definition)
        self.warnings: list[str] = _missing_texts(definition, self.items, self.options)

    def item(self, item: Mapping[str, Any], lang: str) -> str:
        if lang == self.lang and item["id"] in self.items:
            return self.items[item["id"]]
        return self.fallback.item(item, lang)

    def option(self, item: Mapping[str, Any], option: Mapping[str, Any], lang: str) -> str:
        scale = self.options.get(item.get("scale", ""), {})
        key = str(option["code"])
        if lang == self.lang and key in scale:
            return scale[key]
        return self.fallback.option(item, option, lang)

    def title(self, lang: str) -> str:
        """The pack's title in its own language, else the definition's title."""
        if lang == self.lang and self.title_text:
            return self.title_text
        return self.definition.title(lang)

    def instructions(self, lang: str) -> str:
        """The pack's instructions in its own language, else the definition's."""
        if lang == self.lang and self.instructions_text:
            return self.instructions_text
        return text(self.definition.data.get("instructions"), lang)

    def record(self) -> dict[str, Any]:
        return {"kind": "wording_pack", "source": self.source, "sha256": self.sha256, "lang": self.lang}


def _missing_texts(definition: Definition, items: Mapping[str, str],
                   options: Mapping[str, Mapping[str, str]]) -> list[str]:
    warnings = []
    missing_items = [item["id"] for _, item in iter_items(definition.items) if item["id"] not in items]
    if missing_items:
        warnings.append("no wording for item(s) " + ", ".join(missing_items) + "; project labels are used")
    used_scales = {item["scale"] for _, item in iter_items(definition.items)
                   if item.get("type", "choice") == "choice"}
    for scale in sorted(used_scales):
        codes = [str(o["code"]) for o in definition.data["scales"][scale]["options"]]
        lacking = [c for c in codes if c not in options.get(scale, {})]
        if lacking:
            warnings.append(f"no wording for option(s) {', '.join(lacking)} of scale {scale}; "
                            "project labels are used")
    return warnings


def parse_pack(definition: Definition, lang: str, raw: bytes, where: str = "") -> WordingPack:
    """Validate a pack's bytes against ``definition`` and return it.

    Raises :class:`WordingPackError` naming the first problem (unknown item id,
    scale or code, missing ``source``, wrong types).
    """
    where = where or f"{definition.id}.{lang}.json"
    if lang not in LANGUAGES:
        raise WordingPackError(f"{where}: language {lang!r} is not one of {', '.join(LANGUAGES)}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WordingPackError(f"{where}: not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise WordingPackError(f"{where}: a wording pack must be a JSON object")
    unknown_keys = sorted(set(data) - ALLOWED_KEYS)
    if unknown_keys:
        raise WordingPackError(f"{where}: unknown key(s) {', '.join(unknown_keys)}")
    if not _nonempty(data.get("source")):
        raise WordingPackError(f"{where}: \"source\" (who issued the wording, under which licence) "
                               "is required")
    for key, expected in (("instrument", definition.id), ("lang", lang)):
        if key in data and data[key] != expected:
            raise WordingPackError(f"{where}: \"{key}\" is {data[key]!r} but the file name says {expected!r}")
    for key in ("title", "instructions"):
        if key in data and not _nonempty(data[key]):
            raise WordingPackError(f"{where}: \"{key}\" must be a non-empty text")

    items = data.get("items", {})
    if not isinstance(items, dict):
        raise WordingPackError(f"{where}: \"items\" must be an object of item id -> text")
    known = {item["id"] for _, item in iter_items(definition.items)}
    for item_id, value in items.items():
        if item_id not in known:
            raise WordingPackError(f"{where}: unknown item id {item_id!r} (not in {definition.id} "
                                   f"{definition.version})")
        if not _nonempty(value):
            raise WordingPackError(f"{where}: the text of item {item_id!r} must be a non-empty string")

    options = data.get("options", {})
    if not isinstance(options, dict):
        raise WordingPackError(f"{where}: \"options\" must be an object of scale -> code -> text")
    scales = definition.data.get("scales", {})
    for scale, texts in options.items():
        if scale not in scales:
            raise WordingPackError(f"{where}: unknown scale {scale!r} in \"options\"")
        if not isinstance(texts, dict):
            raise WordingPackError(f"{where}: options of scale {scale!r} must be an object of code -> text")
        codes = {str(o["code"]) for o in scales[scale]["options"]}
        for code, value in texts.items():
            if code not in codes:
                raise WordingPackError(f"{where}: scale {scale!r} has no option code {code!r}")
            if not _nonempty(value):
                raise WordingPackError(f"{where}: option {code!r} of scale {scale!r} "
                                       "must be a non-empty string")

    return WordingPack(definition, lang, data, hashlib.sha256(raw).hexdigest())


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


@dataclass
class PackStatus:
    """What happened to one pack file: loaded (with warnings) or refused (with the error)."""

    instrument_id: str
    lang: str
    path: Path
    pack: WordingPack | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class WordingPacks:
    """Every pack file found in TEXTS_DIR for one application."""

    directory: Path
    packs: dict[tuple[str, str], WordingPack] = field(default_factory=dict)
    statuses: list[PackStatus] = field(default_factory=list)

    def get(self, instrument_id: str, lang: str) -> WordingPack | None:
        return self.packs.get((instrument_id, lang))


def load_packs(directory: Path, definitions: Mapping[str, Definition]) -> WordingPacks:
    """Read and validate every ``*.json`` pack in ``directory`` against the installed definitions.

    A bad pack never stops the application: it is listed with its error and
    its instrument shows the project labels.
    """
    result = WordingPacks(directory=directory)
    if not directory.is_dir():
        return result
    for path in sorted(directory.glob("*.json")):
        match = PACK_NAME.match(path.name)
        if not match:
            result.statuses.append(PackStatus("?", "?", path, error=(
                f"{path.name}: the file name must be <instrument_id>.<lang>.json")))
            continue
        instrument_id, lang = match["instrument"], match["lang"]
        status = PackStatus(instrument_id, lang, path)
        result.statuses.append(status)
        definition = definitions.get(instrument_id)
        if definition is None:
            status.error = f"{path.name}: no installed instrument {instrument_id!r}"
            continue
        try:
            pack = parse_pack(definition, lang, path.read_bytes(), path.name)
        except OSError as exc:
            status.error = f"{path.name}: cannot read ({exc.strerror or exc})"
        except WordingPackError as exc:
            status.error = str(exc)
        else:
            pack.path = path
            status.pack = pack
            status.warnings = pack.warnings
            result.packs[(instrument_id, lang)] = pack
        if status.error:
            log.warning("wording pack refused: %s", status.error)
        for warning in status.warnings:
            log.warning("wording pack %s: %s", path.name, warning)
    return result


def wording_packs(app: Flask) -> WordingPacks:
    """The app's wording packs, read and validated on first use and cached in ``app.extensions``."""
    return cached_extension(
        app, EXTENSION_KEY,
        lambda: load_packs(Path(app.config["TEXTS_DIR"]), instrument_definitions(app)),
    )


def texts_for(app: Flask, definition: Definition, lang: str) -> TextSource:
    """The wording a form of ``definition`` shows in ``lang``: the installed pack, or the project labels.

    Use it for every form page (whole form and tablet stepper) and store
    ``texts_for(...).record()`` on the response as the wording it was answered
    with. A pack that failed validation is never used; the project labels are.
    Returns an object with ``item(item, lang)``, ``option(item, option, lang)``,
    ``record()`` and ``official`` (True only for an installed pack).
    """
    pack = wording_packs(app).get(definition.id, lang)
    if pack is not None and pack.definition.version == definition.version:
        return pack
    # No pack, or a pack validated against another version of the definition.
    return ProjectLabels(definition)
