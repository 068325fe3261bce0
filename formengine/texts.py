"""Where the words on a form come from: the definition's project labels, or an installed wording pack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from formengine.instruments import Definition, text


class TextSource(Protocol):
    """What a form asks for its wording. ``record()`` is stored with every response."""

    official: bool

    def item(self, item: Mapping[str, Any], lang: str) -> str: ...

    def option(self, item: Mapping[str, Any], option: Mapping[str, Any], lang: str) -> str: ...

    def record(self) -> dict[str, Any]: ...


class ProjectLabels:
    """The project-written labels in the definition (no licensed wording)."""

    official = False

    def __init__(self, definition: Definition):
        self.definition = definition

    def item(self, item: Mapping[str, Any], lang: str) -> str:
        return text(item["label"], lang)

    def option(self, item: Mapping[str, Any], option: Mapping[str, Any], lang: str) -> str:
        return text(option["label"], lang)

    def record(self) -> dict[str, Any]:
        return {"kind": "project_labels"}
