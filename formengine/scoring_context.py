"""What the core hands a scoring function besides the answers."""

from __future__ import annotations

from typing import Any

from flask import Flask

from formengine.instruments import Instrument, ScoringContext


def scoring_context(
    app: Flask, instrument: Instrument, options: dict[str, Any] | None = None
) -> ScoringContext:
    """The scoring context for ``instrument`` in ``app`` (norm tables arrive with norm packs)."""
    return ScoringContext(norms=None, options=dict(options or {}))
