"""What the core hands a scoring function besides the answers."""

from __future__ import annotations

from typing import Any

from flask import Flask

from formengine.instruments import Instrument, ScoringContext
from formengine.norms import norm_packs


def scoring_context(
    app: Flask, instrument: Instrument, options: dict[str, Any] | None = None
) -> ScoringContext:
    """The scoring context for ``instrument`` in ``app``: its installed norm pack (or None) and ``options``.

    Norm packs are read and validated once per app (see :mod:`formengine.norms`).
    """
    return ScoringContext(norms=norm_packs(app).get(instrument.id), options=dict(options or {}))
