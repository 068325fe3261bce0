"""pytest fixtures for instrument plugin authors, registered under the ``pytest11`` entry point.

Installing formengine makes these fixtures available in any pytest run, so a
third-party plugin's tests need no imports::

    import my_plugin

    def test_conformance(formengine_check_plugin):
        formengine_check_plugin(my_plugin, min_vectors=15)

    def test_official_wording(formengine_wording_pack, my_instrument):
        pack = formengine_wording_pack(my_instrument.definition, "da", {"q1": "Made-up text"})
        assert pack.item(my_instrument.definition.items_by_id["q1"], "da") == "Made-up text"

The fixtures only define functions; nothing runs unless a test asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def formengine_check_plugin() -> Callable[..., Any]:
    """:func:`formengine.testing.check_plugin`: every conformance check on a plugin module."""
    from formengine.testing import check_plugin

    return check_plugin


@pytest.fixture
def formengine_vectors() -> Callable[[str | Path], list[dict[str, Any]]]:
    """:func:`formengine.testing.load_vectors`: read a ``vectors.jsonl`` file."""
    from formengine.testing import load_vectors

    return load_vectors


@pytest.fixture
def formengine_wording_pack(tmp_path: Path) -> Callable[..., Any]:
    """Write a made-up wording pack for a definition and return it validated (a WordingPack).

    Call it with ``(definition, lang, items, options=None, source="made-up test pack")``;
    the file lands in ``tmp_path / "texts"`` (``.path`` on the returned pack), ready
    to be used as an app's ``TEXTS_DIR``.
    """
    import json

    from formengine.wording import parse_pack

    def make(definition: Any, lang: str, items: Mapping[str, str],
             options: Mapping[str, Mapping[str, str]] | None = None,
             source: str = "made-up test pack") -> Any:
        directory = tmp_path / "texts"
        directory.mkdir(exist_ok=True)
        path = directory / f"{definition.id}.{lang}.json"
        data = {"source": source, "items": dict(items),
                "options": {scale: dict(texts) for scale, texts in (options or {}).items()}}
        path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        pack = parse_pack(definition, lang, path.read_bytes(), path.name)
        pack.path = path
        return pack

    return make
