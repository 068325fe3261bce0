"""Instrument definitions: load, validate against the meta-schema, and answer questions about them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

from formengine.instruments import conditions

LANGUAGES = ("da", "en")


class DefinitionError(ValueError):
    """A definition does not conform. ``pointer`` is the JSON pointer of the problem."""

    def __init__(self, message: str, pointer: str = "", source: str = ""):
        self.pointer = pointer or "/"
        self.source = source
        self.reason = message
        where = f"{source} " if source else ""
        super().__init__(f"{where}at {self.pointer}: {message}")


class AnswerError(ValueError):
    """An answer set does not fit its definition. ``problems`` lists each one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _pointer(path: Iterator[Any] | list[Any]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


def _load_metaschema() -> dict[str, Any]:
    text = resources.files("formengine.instruments").joinpath("metaschema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


METASCHEMA: dict[str, Any] = _load_metaschema()
_META_VALIDATOR = Draft202012Validator(METASCHEMA)


class Definition:
    """A validated instrument definition (read-only view of the JSON document)."""

    def __init__(self, data: Mapping[str, Any], source: str = ""):
        self.data: dict[str, Any] = json.loads(json.dumps(data))  # private deep copy
        self.source = source
        _check(self.data, source)

    # -- identity -------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def respondent(self) -> str:
        return str(self.data["respondent"])

    @property
    def subject(self) -> str:
        return str(self.data.get("subject", "person"))

    @property
    def age_range(self) -> tuple[int | None, int | None]:
        ages = self.data.get("age_range", {})
        return ages.get("min"), ages.get("max")

    @property
    def licence(self) -> dict[str, Any]:
        licence: dict[str, Any] = self.data["licence"]
        return licence

    def title(self, lang: str = "da") -> str:
        return text(self.data["title"], lang)

    # -- items ----------------------------------------------------------
    @property
    def items(self) -> list[dict[str, Any]]:
        """Top-level items in order."""
        items: list[dict[str, Any]] = self.data["items"]
        return items

    @cached_property
    def items_by_id(self) -> dict[str, dict[str, Any]]:
        return {item["id"]: item for item in self.items}

    @cached_property
    def item_ids(self) -> list[str]:
        return [item["id"] for item in self.items]

    def scale_options(self, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The options of a choice item's scale (code + label)."""
        options: list[dict[str, Any]] = self.data["scales"][item["scale"]]["options"]
        return options

    def allows_decline(self, item: Mapping[str, Any]) -> bool:
        return bool(item.get("allow_decline", self.data.get("allow_decline", False)))

    def is_shown(self, item: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
        """Whether an item's display condition holds for the answers so far."""
        cond = item.get("show_if")
        return True if cond is None else conditions.evaluate(cond, answers)

    def is_required(self, item: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
        """Whether an item must be answered, given the other answers."""
        if not self.is_shown(item, answers):
            return False
        cond = item.get("required_if")
        if cond is not None:
            return conditions.evaluate(cond, answers)
        return bool(item.get("required", True))

    @property
    def pages(self) -> list[dict[str, Any]]:
        """Sections of items; without explicit pages, one item per page."""
        if "pages" in self.data:
            pages: list[dict[str, Any]] = self.data["pages"]
            return pages
        return [{"id": item["id"], "items": [item["id"]]} for item in self.items]

    # -- scores ---------------------------------------------------------
    @property
    def scores(self) -> list[dict[str, Any]]:
        scores: list[dict[str, Any]] = self.data.get("scores", [])
        return scores

    @cached_property
    def score_names(self) -> list[str]:
        return [s["name"] for s in self.scores]

    def flag_text(self, code: str, lang: str = "da") -> str | None:
        """The definition's plain-language explanation of a flag code, if it has one."""
        texts = self.data.get("flag_texts", {})
        return text(texts[code], lang) if code in texts else None

    def score_spec(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.scores if s["name"] == name), None)

    # -- answers --------------------------------------------------------
    @cached_property
    def answer_schema(self) -> dict[str, Any]:
        """JSON Schema (2020-12) for an answer set of this definition."""
        return derive_answer_schema(self.data)

    @cached_property
    def _answer_validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.answer_schema, format_checker=FormatChecker())

    @cached_property
    def _cross_item_validator(self) -> Draft202012Validator | None:
        """Only the answer schema's rules across items (``required_if``); None when there are none.

        The codec has already checked every value against its item, so running
        the whole schema again per answer set would check everything twice (it
        was over 90% of ``formengine score --batch``'s time).
        """
        rules = self.answer_schema.get("allOf")
        if not rules:
            return None
        return Draft202012Validator({"$schema": self.answer_schema["$schema"], "allOf": rules},
                                    format_checker=FormatChecker())

    def answer_problems(self, answers: Any) -> list[str]:
        """Readable problems with a finished answer set; empty when it is valid.

        The answer codec (:mod:`formengine.instruments.codec`) checks every
        value; the derived answer schema then checks the rules across items
        (``required_if``).
        """
        from formengine.instruments.codec import codec_for  # the codec is built on this module

        refused = codec_for(self).problems(answers, complete=True)
        if refused:
            return [p.message("en") for p in refused]
        return self._cross_item_problems(answers)

    def _cross_item_problems(self, answers: Mapping[str, Any]) -> list[str]:
        validator = self._cross_item_validator
        if validator is None:
            return []
        return [self._describe(error, answers)
                for error in sorted(validator.iter_errors(answers), key=_error_sort_key)]

    def validate_answers(self, answers: Any) -> dict[str, Any]:
        """Raise :class:`AnswerError` unless ``answers`` fits this definition; return them in stored form.

        Value problems raise the codec's ``AnswerRefused`` (an AnswerError naming each item and reason).
        """
        from formengine.instruments.codec import codec_for

        stored = codec_for(self).read_json(answers, complete=True)
        problems = self._cross_item_problems(stored)
        if problems:
            raise AnswerError(problems)
        return stored

    def _describe(self, error: Any, answers: Mapping[str, Any]) -> str:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and not path:
            unknown = sorted(set(answers) - set(self.items_by_id))
            return "unknown item id(s): " + ", ".join(unknown)
        if error.validator == "required" and not path:
            return f"{error.message.split(' ')[0].strip(chr(39))} is required here"
        where = ".".join(str(p) for p in path) or "answers"
        value = error.instance
        if error.validator == "enum":
            allowed = ", ".join(json.dumps(c) for c in error.validator_value)
            return f"{where}: {json.dumps(value)} is not a code of this item (allowed: {allowed})"
        if error.validator in ("minimum", "maximum"):
            return f"{where}: {value} is out of range ({error.message})"
        if error.validator == "maxLength":
            return f"{where}: text longer than {error.validator_value} characters"
        if error.validator == "format":
            return f"{where}: {json.dumps(value)} is not a valid {error.validator_value}"
        if error.validator == "type":
            return f"{where}: {json.dumps(value)} has the wrong type (expected {error.validator_value})"
        return f"{where}: {error.message}"


def _error_sort_key(error: Any) -> tuple[str, str]:
    return (".".join(str(p) for p in error.absolute_path), error.validator)


def text(value: Mapping[str, str] | str | None, lang: str = "da") -> str:
    """Pick a language from a ``{"da": ..., "en": ...}`` text (Danish as fallback)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(lang) or value.get("da") or next(iter(value.values()), "")


def iter_items(items: list[dict[str, Any]], base: str = "/items") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every item with its JSON pointer, sub-items of groups included."""
    for index, item in enumerate(items):
        pointer = f"{base}/{index}"
        yield pointer, item
        if item.get("type") == "group":
            yield from iter_items(item["items"], pointer + "/items")


def _item_schema(item: Mapping[str, Any], scales: Mapping[str, Any]) -> dict[str, Any]:
    kind = item.get("type", "choice")
    if kind == "choice":
        return {"enum": [o["code"] for o in scales[item["scale"]]["options"]]}
    if kind == "text":
        return {"type": "string", "maxLength": item["max_length"]}
    if kind == "number":
        schema: dict[str, Any] = {"type": "integer" if item.get("integer") else "number"}
        if "min" in item:
            schema["minimum"] = item["min"]
        if "max" in item:
            schema["maximum"] = item["max"]
        return schema
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "date":
        return {"type": "string", "format": "date"}
    # group: a list of entries, each an object of its sub-items
    array: dict[str, Any] = {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "properties": {sub["id"]: _item_schema(sub, scales) for sub in item["items"]},
        },
    }
    if "min_repeat" in item:
        array["minItems"] = item["min_repeat"]
    if "max_repeat" in item:
        array["maxItems"] = item["max_repeat"]
    return array


def derive_answer_schema(data: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema an answer set (item id -> code) must satisfy.

    Unknown item ids and codes outside an item's scale are rejected. Missing
    items are allowed (a missing key means unanswered); an item with a
    ``required_if`` condition becomes required when its condition holds.
    """
    scales = data.get("scales", {})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Answers to {data['id']} {data['version']}",
        "type": "object",
        "additionalProperties": False,
        "properties": {item["id"]: _item_schema(item, scales) for item in data["items"]},
    }
    rules = [
        {"if": conditions.to_schema(item["required_if"]), "then": {"required": [item["id"]]}}
        for item in data["items"]
        if "required_if" in item
    ]
    if rules:
        schema["allOf"] = rules
    return schema


@lru_cache(maxsize=512)
def _metaschema_problem(text: str) -> tuple[str, str] | None:
    """The first meta-schema violation (message, JSON pointer) of a definition given as JSON text.

    Cached: every app validates the same installed definitions again, and the
    meta-schema walk is most of what building an app costs.
    """
    best = best_match(_META_VALIDATOR.iter_errors(json.loads(text)))
    return None if best is None else (best.message, _pointer(best.absolute_path))


def _check(data: dict[str, Any], source: str) -> None:
    """Meta-schema validation, then the cross-references JSON Schema cannot express."""
    problem = _metaschema_problem(json.dumps(data))
    if problem is not None:
        raise DefinitionError(problem[0], problem[1], source)

    scales = data.get("scales", {})
    for name, scale in scales.items():
        codes = [o["code"] for o in scale["options"]]
        if len(set(map(json.dumps, codes))) != len(codes):
            raise DefinitionError(f"scale {name!r} repeats a code", f"/scales/{name}/options", source)

    seen: dict[str, str] = {}
    for pointer, item in iter_items(data["items"]):
        if item["id"] in seen:
            raise DefinitionError(
                f"item id {item['id']!r} is used twice (first at {seen[item['id']]})",
                pointer + "/id",
                source,
            )
        seen[item["id"]] = pointer
        if item.get("type", "choice") == "choice" and item["scale"] not in scales:
            raise DefinitionError(f"unknown scale {item['scale']!r}", pointer + "/scale", source)
        if item.get("type") == "number" and "min" in item and "max" in item:
            if item["min"] > item["max"]:
                raise DefinitionError("min is greater than max", pointer, source)

    top_ids = [item["id"] for item in data["items"]]
    for pointer, item in iter_items(data["items"]):
        for key in ("show_if", "required_if"):
            if key in item:
                for ref in conditions.referenced_items(item[key]):
                    if ref not in top_ids:
                        raise DefinitionError(
                            f"condition refers to unknown item {ref!r}", f"{pointer}/{key}", source
                        )
                    if ref == item["id"]:
                        raise DefinitionError("condition refers to its own item", f"{pointer}/{key}", source)

    if "pages" in data:
        placed: dict[str, str] = {}
        for p_index, page in enumerate(data["pages"]):
            for i_index, item_id in enumerate(page["items"]):
                pointer = f"/pages/{p_index}/items/{i_index}"
                if item_id not in top_ids:
                    raise DefinitionError(f"page lists unknown item {item_id!r}", pointer, source)
                if item_id in placed:
                    raise DefinitionError(f"item {item_id!r} is on two pages", pointer, source)
                placed[item_id] = pointer
        missing = [i for i in top_ids if i not in placed]
        if missing:
            raise DefinitionError(f"items on no page: {', '.join(missing)}", "/pages", source)

    names = [s["name"] for s in data.get("scores", [])]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise DefinitionError(f"score name {name!r} is declared twice", f"/scores/{index}/name", source)


def load_definition(source: str | Path | Mapping[str, Any]) -> Definition:
    """Load and validate a definition from a JSON file path or an already parsed mapping.

    Raises :class:`DefinitionError` naming the JSON pointer of the first problem.
    """
    if isinstance(source, Mapping):
        return Definition(source)
    path = Path(source)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise DefinitionError(f"cannot read definition: {exc}", "/", str(path)) from exc
    return Definition(data, source=path.name)
