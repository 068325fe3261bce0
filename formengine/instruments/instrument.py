"""An instrument: a validated definition plus its pure scoring function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from formengine.instruments.definition import Definition
from formengine.instruments.scoring import ScoreResult, ScoringContext

ScoreFunction = Callable[[Mapping[str, Any], ScoringContext], ScoreResult]


class ScoringError(RuntimeError):
    """Scoring broke the contract (e.g. a declared score name is missing from the result)."""


@dataclass(frozen=True)
class Instrument:
    """What a plugin registers through ``formengine_instruments``.

    ``score(answers, context)`` must be pure: same answers and context, same
    result; no Flask, no database. ``scoring_version`` changes whenever the
    scoring rules change, so stored scores can be traced and recomputed.
    """

    definition: Definition
    score: ScoreFunction | None
    scoring_version: str = "1"

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def version(self) -> str:
        return self.definition.version

    def score_answers(
        self, answers: Mapping[str, Any], context: ScoringContext | None = None
    ) -> ScoreResult:
        """Validate ``answers`` against the definition, then score them.

        Raises :class:`~formengine.instruments.definition.AnswerError` for bad
        answers and :class:`ScoringError` when the plugin's result leaves out a
        declared score. Unscored instruments (``score=None``) give a valid,
        empty result.
        """
        self.definition.validate_answers(answers)
        if self.score is None:
            return ScoreResult(valid=True, scores={})
        result = self.score(dict(answers), context or ScoringContext())
        missing = [n for n in self.definition.score_names if n not in result.scores]
        if missing:
            raise ScoringError(f"{self.id}: scoring did not return {', '.join(missing)}")
        return result

    def result_json(self, result: ScoreResult) -> dict[str, Any]:
        """The stable JSON shape of ``formengine score``."""
        data = result.to_dict()
        return {"instrument": self.id, "version": self.version, **data}
