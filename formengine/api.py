"""The public API for plugins: the only formengine module a plugin imports (with ``formengine.testing``).

Everything else in ``formengine`` is private and may change between releases.
``API_VERSION`` follows semantic versioning: a plugin declares the range it
supports with a module attribute ``REQUIRES_API = ">=1.0,<2"`` and is refused
at load, with a message naming it, when the running core is outside that range.
"""

from formengine.instruments import (
    AnswerError,
    Definition,
    DefinitionError,
    Flag,
    Instrument,
    ScoreResult,
    ScoringContext,
    band_for,
    load_definition,
    round_half_up,
    text,
)
from formengine.markers import hookimpl

API_VERSION = "1.0"

__all__ = [
    "API_VERSION",
    "AnswerError",
    "Definition",
    "DefinitionError",
    "Flag",
    "Instrument",
    "ScoreResult",
    "ScoringContext",
    "band_for",
    "hookimpl",
    "load_definition",
    "round_half_up",
    "text",
]
