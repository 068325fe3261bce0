"""The one answer codec: submitted values in, stored answers out, and back.

Every route that accepts answers goes through here: the stepper and the
whole-form page (form fields, :meth:`AnswerCodec.read_form`), CSV import
(cells, :meth:`AnswerCodec.read_text`), JSON Lines import, ``formengine
score`` and any API (JSON, :meth:`AnswerCodec.read_json`). Nothing else
parses answers. A refusal is an :class:`AnswerRefused` listing
:class:`Problem`\\ s (item id, reason code, message in Danish and English);
callers refuse the whole request and change nothing.

Stored values, per question type:

- ``choice``: a code exactly as the scale lists it (an integer stays an
  integer, a text stays a text). From JSON the value must be that very code:
  ``1.0``, ``1e0``, ``true`` or ``"1"`` are not the code ``1``. From a form
  field or CSV cell the text is the code's JSON form (``1``, ``"a"``, what the
  stepper's radio buttons post) or its plain text (``a``) when no other code
  of the scale reads the same.
- ``boolean`` (yes/no): ``true``/``false``. Typed text may say ``ja``/``nej``,
  ``yes``/``no``, ``true``/``false`` or ``1``/``0`` (any case).
- ``number``: an integer or a decimal number within ``min``/``max``; typed
  text takes a Danish decimal comma (``3,5``) or a point, ASCII digits only,
  at most 15 digits. An ``integer`` item refuses any decimal part (``3.0``
  included) and JSON ``true``.
- ``date``: ``YYYY-MM-DD``, a real calendar date.
- ``text``: at most ``max_length`` characters after surrounding spaces are
  trimmed (typed text) and line breaks are made ``\\n``; control characters
  (NUL, vertical tab, ...) are refused, and so are line breaks in a
  single-line text.
- ``group`` (repeatable): a list of entries, each an object of the group's
  sub-items (values as above, nothing nested deeper). While a draft is being
  filled it holds 0 to ``max_repeat`` entries (100 without one); a finished
  answer set needs ``min_repeat``. Entry operations (add, remove one) are
  checked by :meth:`AnswerCodec.group_edit` before anything is written.

An empty form field or CSV cell means "not answered"; in JSON an unanswered
item is left out (``null`` is refused). Item ids the definition does not have
are refused, never ignored.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

from formengine.instruments.definition import AnswerError, Definition

DEFAULT_MAX_ENTRIES = 100
MAX_DIGITS = 15  # beyond this a float no longer holds every integer exactly
MAX_FIELD_CHARS = 20_000  # a posted value longer than this is refused before it is looked at

_INTEGER_RE = re.compile(r"[+-]?[0-9]{1,15}", re.ASCII)
_DECIMAL_RE = re.compile(r"([+-]?)([0-9]{1,15})(?:[.,]([0-9]{1,15}))?", re.ASCII)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_INDEX_RE = re.compile(r"[0-9]{1,3}", re.ASCII)
_TRUE = frozenset({"ja", "yes", "true", "1"})
_FALSE = frozenset({"nej", "no", "false", "0"})

# Reason code -> (Danish, English); {item} is the question's label or id.
MESSAGES: dict[str, tuple[str, str]] = {
    "unknown_item": (
        "ukendt spørgsmål: {item}",
        "unknown item id(s): {item}",
    ),
    "not_on_step": (
        "{item}: spørgsmålet hører ikke til dette trin",
        "{item}: this question is not on this step",
    ),
    "null": (
        "{item}: udelad spørgsmålet i stedet for at sende null",
        "{item}: leave the item out instead of sending null",
    ),
    "not_a_code": (
        "{item}: {value} er ikke et af svarene (mulige: {limit})",
        "{item}: {value} is not a code of this item (allowed: {limit})",
    ),
    "not_yes_no": (
        "{item}: svar ja eller nej",
        "{item}: {value} has the wrong type (expected boolean)",
    ),
    "not_a_number": (
        "{item}: {value} er ikke et tal",
        "{item}: {value} has the wrong type (expected a number)",
    ),
    "not_whole": (
        "{item}: {value} er ikke et helt tal",
        "{item}: {value} has the wrong type (expected a whole number)",
    ),
    "too_small": (
        "{item}: {value} er for lille (mindst {limit})",
        "{item}: {value} is out of range (at least {limit})",
    ),
    "too_large": (
        "{item}: {value} er for stort (højst {limit})",
        "{item}: {value} is out of range (at most {limit})",
    ),
    "not_a_date": (
        "{item}: {value} er ikke en dato (ÅÅÅÅ-MM-DD)",
        "{item}: {value} is not a valid date (YYYY-MM-DD)",
    ),
    "not_text": (
        "{item}: svaret skal være tekst",
        "{item}: {value} has the wrong type (expected text)",
    ),
    "too_long": (
        "{item}: teksten er længere end {limit} tegn",
        "{item}: text longer than {limit} characters",
    ),
    "control_character": (
        "{item}: teksten indeholder et tegn, der ikke er tilladt ({value})",
        "{item}: the text contains a character that is not allowed ({value})",
    ),
    "line_break": (
        "{item}: svaret skal stå på én linje",
        "{item}: the answer must be on one line",
    ),
    "not_entries": (
        "{item}: svaret skal være en liste af punkter",
        "{item}: {value} has the wrong type (expected a list of entries)",
    ),
    "too_few_entries": (
        "{item}: mindst {limit} punkter",
        "{item}: at least {limit} entries",
    ),
    "too_many_entries": (
        "{item}: højst {limit} punkter",
        "{item}: at most {limit} entries",
    ),
    "bad_count": (
        "{item}: antallet af punkter er ikke et tal fra 0 til {limit}",
        "{item}: the number of entries is not a number from 0 to {limit}",
    ),
    "bad_entry": (
        "{item}: der er intet punkt {value}",
        "{item}: there is no entry {value}",
    ),
    "bad_operation": (
        "{item}: ukendt handling {value}",
        "{item}: unknown action {value}",
    ),
    "cannot_decline": (
        "{item}: dette spørgsmål kan ikke springes over",
        "{item}: this question cannot be declined",
    ),
    "not_answered": (
        "{item}: skal besvares (eller vælg “Vil ikke svare”, hvor det tilbydes)",
        "{item}: must be answered (or choose “Don't want to answer” where it is offered)",
    ),
    "not_an_object": (
        "svarene skal være et JSON-objekt (spørgsmål -> svar)",
        "answers must be a JSON object of item id -> code",
    ),
}


@dataclass(frozen=True)
class Problem:
    """One refused value: which item (``goals.0.goal`` inside a group), why (a reason code), and detail."""

    item: str
    reason: str
    value: str = ""
    limit: Any = None

    def message(self, lang: str = "en", label: str | None = None) -> str:
        """The problem in Danish (``da``) or English, naming the item by ``label`` or its id."""
        da, en = MESSAGES[self.reason]
        template = da if lang == "da" else en
        return template.format(item=label or self.item, value=self.value, limit=self.limit)

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "reason": self.reason,
                "message": {"da": self.message("da"), "en": self.message("en")}}


class AnswerRefused(AnswerError):
    """Submitted answers were refused: ``refusals`` lists each :class:`Problem`; ``problems`` in English."""

    def __init__(self, refusals: list[Problem]):
        self.refusals = list(refusals)
        super().__init__([p.message("en") for p in self.refusals])


class _Refused(Exception):
    def __init__(self, reason: str, value: Any = "", limit: Any = None):
        self.reason, self.value, self.limit = reason, value, limit


def _show(value: Any) -> str:
    """A short, printable rendering of a refused value for a message (never the whole of it)."""
    if isinstance(value, str):
        text = json.dumps(value[:40], ensure_ascii=False)
    elif isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        too_long = isinstance(value, int) and abs(value) >= 10**20
        text = "(a very long number)" if too_long else json.dumps(value)
    else:
        text = f"({type(value).__name__})"
    return text if len(text) <= 60 else text[:57] + "..."


def filled_entries(entries: Any) -> list[Any]:
    """The entries of a group's answer that hold at least one answer.

    An entry added and left untouched holds none: it does not count towards
    ``min_repeat`` and is not kept at submit.
    """
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries
            if isinstance(entry, Mapping) and any(v not in (None, "", []) for v in entry.values())]


def code_key(code: Any) -> str:
    """A code as a form field value: its JSON form, so ``1`` and ``"1"`` stay apart."""
    return json.dumps(code)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class AnswerCodec:
    """Reads and writes the answers of one definition (get it with :func:`codec_for`)."""

    def __init__(self, definition: Definition):
        self.definition = definition
        self._choices: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        # (type, value) -> code per choice item: one lookup instead of a walk along the scale,
        # keeping 1, 1.0, True and "1" apart as the walk's type check did
        self._codes: dict[str, dict[tuple[type, Any], Any]] = {}
        self._all_codes: dict[str, dict[tuple[type, Any], Any]] | None = None

    # -- one value ---------------------------------------------------------
    def _choice_maps(self, item: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        found = self._choices.get(item["id"])
        if found is None:
            codes = [o["code"] for o in self.definition.scale_options(item)]
            keyed = {code_key(c): c for c in codes}
            plain: dict[str, Any] = {}
            for c in codes:
                plain.setdefault(str(c), []).append(c)
            unique = {text: cs[0] for text, cs in plain.items() if len(cs) == 1 and text not in keyed}
            found = self._choices[item["id"]] = (keyed, unique)
        return found

    def _choice_codes(self) -> dict[str, dict[tuple[type, Any], Any]]:
        """Item id -> its (type, value) -> code lookup, for every choice item (built once)."""
        found = self._all_codes
        if found is None:
            found = self._all_codes = {
                item_id: {(type(o["code"]), o["code"]): o["code"]
                          for o in self.definition.scale_options(item)}
                for item_id, item in self.definition.items_by_id.items()
                if item.get("type", "choice") == "choice"}
        return found

    def _allowed(self, item: Mapping[str, Any]) -> str:
        return ", ".join(code_key(o["code"]) for o in self.definition.scale_options(item))

    def _decode(self, item: Mapping[str, Any], value: Any) -> Any:
        """Check one JSON value against its item; return the stored form or raise _Refused."""
        kind = item.get("type", "choice")
        if value is None:
            raise _Refused("null")
        if kind == "choice":
            codes = self._codes.get(item["id"])
            if codes is None:
                codes = self._codes[item["id"]] = {
                    (type(o["code"]), o["code"]): o["code"] for o in self.definition.scale_options(item)}
            try:
                return codes[(type(value), value)]
            except (KeyError, TypeError):  # TypeError: a list or object is no code
                raise _Refused("not_a_code", _show(value), self._allowed(item)) from None
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            raise _Refused("not_yes_no", _show(value))
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Refused("not_a_number", _show(value))
            if isinstance(value, float) and not math.isfinite(value):
                raise _Refused("not_a_number", _show(value))
            if item.get("integer") and not _is_int(value):
                raise _Refused("not_whole", _show(value))
            if abs(value) >= 10**MAX_DIGITS:
                edge = "9" * MAX_DIGITS if value > 0 else "-" + "9" * MAX_DIGITS
                raise _Refused("too_large" if value > 0 else "too_small", _show(value),
                               item.get("max" if value > 0 else "min", edge))
            if "min" in item and value < item["min"]:
                raise _Refused("too_small", _show(value), item["min"])
            if "max" in item and value > item["max"]:
                raise _Refused("too_large", _show(value), item["max"])
            return value
        if kind == "date":
            if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
                raise _Refused("not_a_date", _show(value))
            try:
                date.fromisoformat(value)
            except ValueError:
                raise _Refused("not_a_date", _show(value)) from None
            return value
        if kind == "text":
            if not isinstance(value, str):
                raise _Refused("not_text", _show(value))
            return self._clean_text(item, value)
        if kind == "group":
            return self._decode_entries(item, value)
        raise _Refused("unknown_item")  # a type the meta-schema does not know

    def _clean_text(self, item: Mapping[str, Any], value: str) -> str:
        text = value.replace("\r\n", "\n").replace("\r", "\n")
        for char in text:
            if char in "\n\t":
                continue
            if unicodedata.category(char) in ("Cc", "Cs"):
                raise _Refused("control_character", f"U+{ord(char):04X}")
        if "\n" in text and not item.get("multiline"):
            raise _Refused("line_break")
        if len(text) > item["max_length"]:
            raise _Refused("too_long", limit=item["max_length"])
        return text

    def _decode_entries(self, item: Mapping[str, Any], value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise _Refused("not_entries", _show(value))
        limit = item.get("max_repeat", DEFAULT_MAX_ENTRIES)
        if len(value) > limit:
            raise _Refused("too_many_entries", limit=limit)
        subs = {sub["id"]: sub for sub in item["items"]}
        entries = []
        problems: list[Problem] = []
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                problems.append(Problem(f"{item['id']}.{index}", "not_entries", _show(entry)))
                continue
            out: dict[str, Any] = {}
            for key, sub_value in entry.items():
                where = f"{item['id']}.{index}.{key}"
                sub = subs.get(key) if isinstance(key, str) else None
                if sub is None:
                    problems.append(Problem(where, "unknown_item"))
                    continue
                try:
                    out[key] = self._decode(sub, sub_value)
                except _Refused as exc:
                    problems.append(Problem(where, exc.reason, exc.value, exc.limit))
                except AnswerRefused as exc:
                    problems.extend(exc.refusals)
            entries.append(out)
        if problems:
            raise AnswerRefused(problems)
        return entries

    def parse_text(self, item: Mapping[str, Any], raw: str) -> Any:
        """One typed value (form field, CSV cell) as its stored form; None when empty (unanswered).

        Raises :class:`AnswerRefused` naming the item.
        """
        try:
            return self._parse_text(item, raw)
        except _Refused as exc:
            raise AnswerRefused([Problem(item["id"], exc.reason, exc.value, exc.limit)]) from None

    def _parse_text(self, item: Mapping[str, Any], raw: str) -> Any:
        kind = item.get("type", "choice")
        if not isinstance(raw, str):
            raise _Refused("not_text")
        if len(raw) > MAX_FIELD_CHARS:
            raise _Refused("too_long", limit=item.get("max_length", MAX_FIELD_CHARS))
        if kind == "text":
            text = raw.strip()
            return self._clean_text(item, text) if text else None
        text = raw.strip()
        if text == "":
            return None
        if kind == "choice":
            keyed, plain = self._choice_maps(item)
            if text in keyed:
                return keyed[text]
            if text in plain:
                return plain[text]
            raise _Refused("not_a_code", _show(text), self._allowed(item))
        if kind == "boolean":
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise _Refused("not_yes_no", _show(text))
        if kind == "number":
            match = _DECIMAL_RE.fullmatch(text)
            if match is None:
                raise _Refused("not_a_number", _show(text))
            sign, whole, fraction = match.groups()
            if fraction is None:
                number: int | float = int(sign + whole)
            elif item.get("integer"):
                raise _Refused("not_whole", _show(text))
            else:
                number = float(f"{sign}{whole}.{fraction}")
            return self._decode(item, number)
        if kind == "date":
            return self._decode(item, text)
        if kind == "group":  # one cell holding the entries as JSON (CSV import)
            try:
                entries = json.loads(text)
            except (ValueError, RecursionError):
                raise _Refused("not_entries") from None
            return self._decode_entries(item, entries)
        raise _Refused("unknown_item")

    # -- answer sets -------------------------------------------------------
    def read_json(self, answers: Any, *, complete: bool = False) -> dict[str, Any]:
        """Check an answer set given as JSON (item id -> value) and return it in stored form.

        ``complete`` adds the rules for a finished answer set (a group's
        ``min_repeat``). Raises :class:`AnswerRefused` listing every problem.
        """
        if not isinstance(answers, Mapping):
            raise AnswerRefused([Problem("", "not_an_object")])
        items = self.definition.items_by_id
        fast = self._choice_codes()
        out: dict[str, Any] = {}
        problems: list[Problem] = []
        for item_id, value in answers.items():
            codes = fast.get(item_id)  # dict keys are hashable; a non-text key finds nothing
            if codes is not None:  # a choice item: one lookup; a refusal takes the full path for its message
                try:
                    out[item_id] = codes[(type(value), value)]
                    continue
                except (KeyError, TypeError):
                    pass
            item = items.get(item_id) if isinstance(item_id, str) else None
            if item is None:
                problems.append(Problem(_show(item_id) if not isinstance(item_id, str) else item_id[:60],
                                        "unknown_item"))
                continue
            try:
                out[item_id] = self._decode(item, value)
            except _Refused as exc:
                problems.append(Problem(item_id, exc.reason, exc.value, exc.limit))
                continue
            except AnswerRefused as exc:
                problems.extend(exc.refusals)
                continue
            if (complete and item.get("type") == "group"
                    and len(filled_entries(out[item_id])) < item.get("min_repeat", 0)):
                problems.append(Problem(item_id, "too_few_entries", limit=item["min_repeat"]))
        if problems:
            raise AnswerRefused(problems)
        return out

    def problems(self, answers: Any, *, complete: bool = True) -> list[Problem]:
        """The problems :meth:`read_json` would refuse ``answers`` with (empty when it is fine)."""
        try:
            self.read_json(answers, complete=complete)
        except AnswerRefused as exc:
            return exc.refusals
        return []

    def read_form(self, form: Mapping[str, str], item_ids: Iterable[str],
                  *, ignore: Iterable[str] = ()) -> dict[str, Any]:
        """The answers posted in form fields for ``item_ids`` (item id -> value, None = cleared).

        Field names: ``<item>``; for a group ``<item>__count`` and
        ``<item>__<entry>__<sub-item>``. An item without any field is left
        out. A field that belongs to no item of ``item_ids`` and is not in
        ``ignore`` (the page's own controls) is refused as unknown.
        """
        wanted = [i for i in item_ids if i in self.definition.items_by_id]
        ignored = set(ignore)
        used: set[str] = set()
        out: dict[str, Any] = {}
        problems: list[Problem] = []
        for item_id in wanted:
            item = self.definition.items_by_id[item_id]
            try:
                present, value = self._read_form_item(item, form, used)
            except AnswerRefused as exc:
                problems.extend(exc.refusals)
                continue
            except _Refused as exc:
                problems.append(Problem(item_id, exc.reason, exc.value, exc.limit))
                continue
            if present:
                out[item_id] = value
        for name in form:
            if name not in used and name not in ignored:
                base = name.split("__", 1)[0]
                reason = "not_on_step" if base in self.definition.items_by_id else "unknown_item"
                problems.append(Problem(_show(name)[1:-1] if len(name) > 60 else name, reason))
        if problems:
            raise AnswerRefused(problems)
        return out

    def _read_form_item(self, item: Mapping[str, Any], form: Mapping[str, str],
                        used: set[str]) -> tuple[bool, Any]:
        name = item["id"]
        if item.get("type") != "group":
            if name not in form:
                return False, None
            used.add(name)
            return True, self._parse_text(item, form[name])
        count_name = f"{name}__count"
        if count_name not in form:
            return False, None
        used.add(count_name)
        limit = item.get("max_repeat", DEFAULT_MAX_ENTRIES)
        raw = form[count_name].strip()
        if not _INDEX_RE.fullmatch(raw) or int(raw) > limit:
            raise _Refused("bad_count", limit=limit)
        entries: list[dict[str, Any]] = []
        problems: list[Problem] = []
        for index in range(int(raw)):
            entry: dict[str, Any] = {}
            for sub in item["items"]:
                field = f"{name}__{index}__{sub['id']}"
                if field not in form:
                    continue
                used.add(field)
                try:
                    value = self._parse_text(sub, form[field])
                except _Refused as exc:
                    problems.append(Problem(f"{name}.{index}.{sub['id']}", exc.reason, exc.value, exc.limit))
                    continue
                if value is not None:
                    entry[sub["id"]] = value
            entries.append(entry)
        if problems:
            raise AnswerRefused(problems)
        return True, entries

    def form_values(self, form: Mapping[str, str], item_ids: Iterable[str]) -> dict[str, Any]:
        """What to show again after a refused post: each value that reads, and typed text as typed.

        So a respondent never loses what they wrote because another field was refused.
        """
        shown: dict[str, Any] = {}
        for item_id in item_ids:
            item = self.definition.items_by_id.get(item_id)
            if item is None or item.get("type") == "group" or item_id not in form:
                continue
            try:
                shown[item_id] = self._parse_text(item, form[item_id])
            except _Refused:
                if item.get("type") in ("text", "number", "date") and isinstance(form[item_id], str):
                    shown[item_id] = form[item_id][:MAX_FIELD_CHARS]
        return shown

    # -- repeatable-group operations --------------------------------------
    def group_edit(self, changes: dict[str, Any], go: str, item_ids: Iterable[str],
                   stored: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``add:<group>`` or ``remove:<group>:<entry>`` to the posted answers.

        The group must be one of ``item_ids`` (the step's shown items); an
        entry index must exist; adding stops at ``max_repeat``. Without posted
        entries the stored ones are the base. Raises :class:`AnswerRefused`
        before anything is written.
        """
        parts = go.split(":")
        name = parts[1] if len(parts) > 1 else ""
        item = self.definition.items_by_id.get(name)
        if item is None or item.get("type") != "group" or name not in set(item_ids):
            raise AnswerRefused([Problem(name[:60] or _show(go[:40]), "bad_operation", _show(go))])
        entries = list(changes[name] if name in changes and changes[name] is not None
                       else stored.get(name) or [])
        limit = item.get("max_repeat", DEFAULT_MAX_ENTRIES)
        if parts[0] == "add" and len(parts) == 2:
            if len(entries) >= limit:
                raise AnswerRefused([Problem(name, "too_many_entries", limit=limit)])
            entries.append({})
        elif parts[0] == "remove" and len(parts) == 3:
            if not _INDEX_RE.fullmatch(parts[2]) or int(parts[2]) >= len(entries):
                raise AnswerRefused([Problem(name, "bad_entry", _show(parts[2]))])
            entries.pop(int(parts[2]))
        else:
            raise AnswerRefused([Problem(name, "bad_operation", _show(go))])
        changes = dict(changes)
        changes[name] = entries
        return changes

    # -- back out ----------------------------------------------------------
    def to_text(self, item: Mapping[str, Any], value: Any) -> str:
        """A stored value as text that :meth:`parse_text` reads back to the same value (CSV cells)."""
        if value is None:
            return ""
        kind = item.get("type", "choice")
        if kind == "choice":
            _, plain = self._choice_maps(item)
            return str(value) if str(value) in plain else code_key(value)
        if kind == "boolean":
            return "true" if value else "false"
        if kind == "group":
            return json.dumps(value, ensure_ascii=False)
        return str(value)


_CODECS: WeakKeyDictionary[Definition, AnswerCodec] = WeakKeyDictionary()


def codec_for(definition: Definition) -> AnswerCodec:
    """The (cached) codec of a definition."""
    codec = _CODECS.get(definition)
    if codec is None:
        codec = _CODECS[definition] = AnswerCodec(definition)
    return codec


__all__ = ["AnswerCodec", "AnswerRefused", "MESSAGES", "Problem", "code_key", "codec_for", "filled_entries"]
