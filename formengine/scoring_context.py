"""What the core hands a scoring function besides the answers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from formengine.instruments import Instrument, ScoringContext
from formengine.norms import norm_packs


def scoring_context(
    app: Flask, instrument: Instrument, options: dict[str, Any] | None = None, *,
    session: Session | None = None, municipality_id: int | None = None,
) -> ScoringContext:
    """The scoring context for ``instrument`` in ``app``: its installed norm pack (or None) and options.

    Options are ``options`` when given, else the municipality's plugin settings
    (with ``session``; see :mod:`formengine.plugin_settings`), else the
    declared defaults. Norm packs are read and validated once per app (see
    :mod:`formengine.norms`).
    """
    if options is None:
        if session is not None:
            from formengine.plugin_settings import options_for

            options = options_for(session, instrument, municipality_id)
        else:
            options = {s.name: s.default for s in instrument.settings}
    return ScoringContext(norms=norm_packs(app).get(instrument.id), options=dict(options))
