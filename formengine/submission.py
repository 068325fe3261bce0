"""What a submitted response must satisfy: the one set of submit rules for every route.

No Flask and no database here. The stepper's submit (:func:`formengine.drafts.submit_draft`),
the whole-form page and import all call :func:`check_submission`, so they agree:

- answers to questions hidden by a display condition are removed (``cleared``;
  the caller records them in the audit trail), never stored or scored;
- a decline of a hidden question is dropped; a decline of a question that does
  not allow declining, or of an unknown one, is refused;
- entries of a repeated group that hold no answer (added, never filled in)
  are not kept, and do not count towards the group's ``min_repeat``;
- every shown question that must be answered (``required``/``required_if``)
  has an answer or a decline, and every shown group has at least its
  ``min_repeat`` filled entries (or a decline); otherwise it is listed in
  ``missing``, in page order, so a page can list and link them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from formengine.instruments import AnswerRefused, Definition, Problem, filled_entries


def has_answer(answers: Mapping[str, Any], declined: Collection[str], item_id: str) -> bool:
    """An item counts as answered when it has a value or was declined on purpose.

    A group counts once one of its entries holds an answer.
    """
    value = answers.get(item_id)
    if isinstance(value, list):
        return bool(filled_entries(value)) or item_id in declined
    return value is not None or item_id in declined


def too_few_entries(item: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Whether a group has fewer filled entries than its ``min_repeat``."""
    return (item.get("type") == "group"
            and len(filled_entries(answers.get(item["id"]))) < item.get("min_repeat", 0))


def without_empty_entries(definition: Definition, answers: Mapping[str, Any]) -> dict[str, Any]:
    """``answers`` without the entries of groups that hold no answer."""
    kept = dict(answers)
    for item_id, value in answers.items():
        item = definition.items_by_id.get(item_id)
        if item is not None and item.get("type") == "group" and isinstance(value, list):
            kept[item_id] = filled_entries(value)
    return kept


def shown_items(definition: Definition, answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Top-level items whose display condition holds for ``answers``, in page order."""
    order = [item_id for page in definition.pages for item_id in page["items"]]
    by_id = definition.items_by_id
    return [by_id[i] for i in order if definition.is_shown(by_id[i], answers)]


def hidden_answered(definition: Definition, answers: Mapping[str, Any]) -> list[str]:
    """Items that have an answer although their display condition no longer holds."""
    return [item["id"] for item in definition.items
            if item["id"] in answers and not definition.is_shown(item, answers)]


def missing_required(definition: Definition, answers: Mapping[str, Any],
                     declined: Collection[str] = ()) -> list[str]:
    """Shown items that must be answered (``required``/``required_if``) and have no answer and no decline.

    In page order, so the review screen can list and link them.
    """
    return [item["id"] for item in shown_items(definition, answers)
            if item["id"] not in declined
            and ((not has_answer(answers, declined, item["id"]) and definition.is_required(item, answers))
                 or too_few_entries(item, answers))]


def decline_problems(definition: Definition, declined: Iterable[str]) -> list[Problem]:
    """Declines that cannot stand: unknown items, and items that do not allow "don't want to answer"."""
    problems = []
    for item_id in declined:
        item = definition.items_by_id.get(item_id)
        if item is None:
            problems.append(Problem(item_id[:60], "unknown_item"))
        elif not definition.allows_decline(item):
            problems.append(Problem(item_id, "cannot_decline"))
    return problems


@dataclass
class Submission:
    """The answers and declines that will be stored, and what the rules found.

    ``cleared``: answered items hidden by a display condition (removed from
    ``answers``). ``missing``: shown items that must be answered and have
    neither an answer nor a decline; a submission with any is refused.
    """

    answers: dict[str, Any]
    declined: list[str]
    cleared: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def missing_problems(self) -> list[Problem]:
        """``missing`` as refusals (reason ``not_answered``), to show with the codec's messages."""
        return [Problem(item_id, "not_answered") for item_id in self.missing]


def check_submission(definition: Definition, answers: Mapping[str, Any],
                     declined: Iterable[str] = ()) -> Submission:
    """Apply the submit rules to ``answers`` and ``declined`` (already read by the answer codec).

    Raises :class:`~formengine.instruments.AnswerRefused` when a decline names
    an unknown item or one that cannot be declined. Hidden answers are cleared
    and required questions checked; the caller refuses when ``missing`` is not
    empty, and records ``cleared`` in the audit trail.
    """
    declined = list(dict.fromkeys(declined))
    problems = decline_problems(definition, declined)
    if problems:
        raise AnswerRefused(problems)
    cleared = hidden_answered(definition, answers)
    kept = without_empty_entries(definition, {k: v for k, v in answers.items() if k not in cleared})
    shown = {item["id"] for item in shown_items(definition, kept)}
    declined = [d for d in declined if d in shown]
    return Submission(answers=kept, declined=declined, cleared=cleared,
                      missing=missing_required(definition, kept, declined))


__all__ = [
    "Submission",
    "check_submission",
    "decline_problems",
    "has_answer",
    "hidden_answered",
    "missing_required",
    "shown_items",
    "too_few_entries",
    "without_empty_entries",
]
