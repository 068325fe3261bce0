"""Display and requirement conditions: evaluate them on answers, or turn them into JSON Schema.

A condition is data in a definition, e.g. ``{"item": "ebddiff", "op": "gt", "value": 0}``,
combined with ``{"all": [...]}``, ``{"any": [...]}`` and ``{"not": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}

_SCHEMA_KEYWORD = {
    "gt": "exclusiveMinimum",
    "gte": "minimum",
    "lt": "exclusiveMaximum",
    "lte": "maximum",
}


def evaluate(condition: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """True when ``condition`` holds for ``answers`` (a missing key is unanswered)."""
    if "all" in condition:
        return all(evaluate(c, answers) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, answers) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], answers)
    op = condition["op"]
    present = answers.get(condition["item"]) is not None
    if op == "answered":
        return present
    if op == "not_answered":
        return not present
    if not present:
        return False
    value = answers[condition["item"]]
    if op == "eq":
        return bool(value == condition["value"])
    if op == "ne":
        return bool(value != condition["value"])
    if op == "in":
        return value in condition["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return bool(_COMPARE[op](value, condition["value"]))


def to_schema(condition: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema that an answer object satisfies exactly when ``condition`` holds."""
    if "all" in condition:
        return {"allOf": [to_schema(c) for c in condition["all"]]}
    if "any" in condition:
        return {"anyOf": [to_schema(c) for c in condition["any"]]}
    if "not" in condition:
        return {"not": to_schema(condition["not"])}
    item, op = condition["item"], condition["op"]
    if op == "answered":
        return {"required": [item], "properties": {item: {"not": {"type": "null"}}}}
    if op == "not_answered":
        return {"not": to_schema({"item": item, "op": "answered"})}
    if op == "eq":
        check: dict[str, Any] = {"const": condition["value"]}
    elif op == "ne":
        check = {"not": {"const": condition["value"]}}
    elif op == "in":
        check = {"enum": list(condition["value"])}
    else:
        check = {"type": "number", _SCHEMA_KEYWORD[op]: condition["value"]}
    return {"required": [item], "properties": {item: check}}


def referenced_items(condition: Mapping[str, Any]) -> Iterator[str]:
    """Every item id a condition looks at."""
    for key in ("all", "any"):
        if key in condition:
            for sub in condition[key]:
                yield from referenced_items(sub)
            return
    if "not" in condition:
        yield from referenced_items(condition["not"])
        return
    yield condition["item"]
