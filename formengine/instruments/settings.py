"""Settings a plugin declares for its instrument; a municipality's values reach scoring as options."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Setting:
    """One municipality setting of an instrument: a choice among fixed values, with a default.

    ``label`` and each choice's label are ``{"da": ..., "en": ...}``. The core
    builds the administrator's settings form from these declarations (one
    choice list per setting), refuses any value that is not a choice, stores
    the municipality's values, and hands scoring the values in effect, the
    defaults included, as ``ScoringContext.options[name]``; each score records
    the options it was computed with.
    """

    name: str
    label: Mapping[str, str]
    default: Any
    choices: tuple[tuple[Any, Mapping[str, str]], ...]
    help: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"setting name {self.name!r} is not snake_case of at most 64 characters")
        if not self.accepts(self.default):
            raise ValueError(f"setting {self.name}: the default {self.default!r} is not one of its choices")

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices (booleans are never numbers here)."""
        return any(type(value) is type(code) and value == code for code, _label in self.choices)
