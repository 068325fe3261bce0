"""An instrument: a validated definition plus its pure scoring function."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from formengine.instruments.definition import Definition
from formengine.instruments.scoring import ScoreResult, ScoringContext
from formengine.instruments.settings import Setting
from formengine.instruments.versions import Migration

log = logging.getLogger("formengine.plugins")

ScoreFunction = Callable[[Mapping[str, Any], ScoringContext], ScoreResult]


class ScoringError(RuntimeError):
    """Scoring broke the contract (e.g. a declared score name is missing from the result)."""


RELIABILITY_KINDS = ("cronbach_alpha", "test_retest", "omega")


@dataclass(frozen=True)
class Reliability:
    """A published reliability coefficient of one score, for the Reliable Change Index.

    ``coefficient`` lies strictly between 0 and 1; ``kind`` is one of
    ``RELIABILITY_KINDS``; ``source`` names the publication (authors, year,
    journal) so a report can cite it. ``sd`` is the reference standard
    deviation the publication gives for the score; without it the reports use
    the baseline standard deviation of the people they pair.
    """

    score: str
    coefficient: float
    kind: str
    source: str
    sd: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.coefficient < 1:
            raise ValueError(f"reliability of {self.score!r}: the coefficient must lie between 0 and 1")
        if self.kind not in RELIABILITY_KINDS:
            kinds = ", ".join(RELIABILITY_KINDS)
            raise ValueError(f"reliability of {self.score!r}: kind must be one of {kinds}")
        if not self.source.strip():
            raise ValueError(f"reliability of {self.score!r}: name the publication in source")
        if self.sd is not None and not self.sd > 0:
            raise ValueError(f"reliability of {self.score!r}: sd must be positive")


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
    #: Municipality settings scoring reads from ``ScoringContext.options`` (see :class:`Setting`).
    settings: tuple[Setting, ...] = ()
    #: How answers stored under older definition versions read under this one
    #: (see :mod:`formengine.instruments.versions`).
    migrations: tuple[Migration, ...] = ()
    #: Published reliability of declared scores (see :class:`Reliability`); reports compute the
    #: Reliable Change Index for these scores only.
    reliability: tuple[Reliability, ...] = ()
    #: The name of the plugin that registered it; set by the core's registry.
    plugin: str | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def version(self) -> str:
        return self.definition.version

    def __post_init__(self) -> None:
        unknown = [r.score for r in self.reliability if r.score not in self.definition.score_names]
        if unknown:
            raise ValueError(f"{self.id}: reliability declared for unknown score(s) {', '.join(unknown)}")

    def reliability_of(self, score_name: str) -> Reliability | None:
        """The declared reliability of ``score_name``, or None."""
        return next((r for r in self.reliability if r.score == score_name), None)

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
        return self.score_validated(answers, context)

    def score_validated(
        self, answers: Mapping[str, Any], context: ScoringContext | None = None
    ) -> ScoreResult:
        """Score answers that already passed :meth:`Definition.validate_answers` (no second pass).

        Raises :class:`ScoringError` when the plugin's result leaves out a declared score.
        """
        if self.score is None:
            return ScoreResult(valid=True, scores={})
        result = self.score(dict(answers), context or ScoringContext())
        missing = [n for n in self.definition.score_names if n not in result.scores]
        if missing:
            raise ScoringError(f"{self.id}: scoring did not return {', '.join(missing)}")
        return result

    def score_guarded(
        self, answers: Mapping[str, Any], context: ScoringContext | None = None, *, validated: bool = False
    ) -> ScoreResult:
        """Like :meth:`score_answers`, but a plugin that raises gives a "scoring failed" result.

        Bad answers still raise :class:`AnswerError` (the caller refuses them);
        ``validated`` says they were already checked (the answer codec read
        them once), so they are not checked again. Any other exception from
        the plugin's code, and a result that breaks the contract, is logged
        with the plugin's name and the error's class only (never the message,
        which may quote answers) and turned into
        :meth:`ScoreResult.scoring_failed`, so the response is stored and
        shown with its answers instead of failing the request.
        """
        if not validated:
            self.definition.validate_answers(answers)
        try:
            return self.score_validated(answers, context)
        except Exception as exc:  # noqa: BLE001 - plugin code may raise anything
            plugin = self.plugin or self.id
            log.error("plugin %s: scoring %s failed with %s", plugin, self.id, type(exc).__name__)
            return ScoreResult.scoring_failed(self.definition.score_names, plugin, type(exc).__name__)

    def result_json(self, result: ScoreResult) -> dict[str, Any]:
        """The stable JSON shape of ``formengine score``."""
        data = result.to_dict()
        return {"instrument": self.id, "version": self.version, **data}
