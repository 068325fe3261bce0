"""Instrument definitions (data), their meta-schema, answer schemas and the scoring contract."""

from formengine.instruments.codec import (
    AnswerCodec,
    AnswerRefused,
    Problem,
    code_key,
    codec_for,
    filled_entries,
)
from formengine.instruments.definition import (
    AnswerError,
    Definition,
    DefinitionError,
    derive_answer_schema,
    load_definition,
    text,
)
from formengine.instruments.instrument import Instrument, Reliability, ScoringError
from formengine.instruments.scoring import (
    CONVENTIONAL_FLAG_CODES,
    FLAG_LEVELS,
    SCORING_FAILED,
    Flag,
    ScoreResult,
    ScoringContext,
    band_for,
    round_half_up,
)
from formengine.instruments.settings import Setting
from formengine.instruments.versions import Migration, breaking_changes

__all__ = [
    "CONVENTIONAL_FLAG_CODES",
    "FLAG_LEVELS",
    "SCORING_FAILED",
    "AnswerCodec",
    "AnswerError",
    "AnswerRefused",
    "Reliability",
    "Problem",
    "code_key",
    "codec_for",
    "filled_entries",
    "Definition",
    "DefinitionError",
    "Flag",
    "Instrument",
    "Migration",
    "ScoreResult",
    "ScoringContext",
    "ScoringError",
    "Setting",
    "band_for",
    "breaking_changes",
    "derive_answer_schema",
    "load_definition",
    "round_half_up",
    "text",
]
