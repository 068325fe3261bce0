"""Where the tablet stepper goes next: pure decisions on a definition and its answers.

No Flask and no database here, so every rule has a unit test: which steps
exist for the answers so far (a step whose questions are all hidden by their
display conditions is skipped), where a draft resumes, and which step follows
a save for each button (next, back, stay, review, add/remove entry, decline).
``None`` as a step means the review screen.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from formengine.instruments import Definition
from formengine.submission import has_answer

NAVIGATION = ("next", "back", "stay", "review")

__all__ = ["NAVIGATION", "has_answer", "next_step", "resume_step", "shown_on", "visible_pages"]


def visible_pages(definition: Definition, answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps that have at least one question shown for ``answers``, in order."""
    by_id = definition.items_by_id
    return [page for page in definition.pages
            if any(definition.is_shown(by_id[i], answers) for i in page["items"])]


def shown_on(definition: Definition, page: Mapping[str, Any], answers: Mapping[str, Any]) -> list[str]:
    """The ids of the questions of ``page`` that are shown for ``answers``."""
    by_id = definition.items_by_id
    return [i for i in page["items"] if definition.is_shown(by_id[i], answers)]


def resume_step(definition: Definition, answers: Mapping[str, Any], declined: Collection[str]) -> str | None:
    """The step of the first shown question with neither an answer nor a decline (None: all done)."""
    for page in visible_pages(definition, answers):
        if any(not has_answer(answers, declined, i) for i in shown_on(definition, page, answers)):
            return page["id"]
    return None


def next_step(definition: Definition, answers: Mapping[str, Any], declined: Collection[str], *,
              page_id: str, go: str, shown_before: Sequence[str],
              declined_item: str | None = None) -> str | None:
    """The step to show after a save on ``page_id`` with button ``go``; None means the review screen.

    ``answers``/``declined`` are the state after the save; ``shown_before``
    the questions the step showed when it was posted. Rules, in order:

    - the step itself disappeared (its questions are now all hidden): resume
      at the first open question;
    - ``stay`` and entry operations (``add:``/``remove:``) keep the step;
    - ``next`` keeps the step when a follow-up question appeared on it, and a
      decline keeps it while other questions of the step are open;
    - otherwise ``back`` goes to the previous step (or stays on the first),
      ``review`` to the review screen, ``next`` to the following step (the
      review screen after the last).
    """
    pages = visible_pages(definition, answers)
    ids = [p["id"] for p in pages]
    if page_id not in ids:
        return resume_step(definition, answers, declined)
    if go == "stay" or go.startswith(("add:", "remove:")):
        return page_id
    shown_after = shown_on(definition, pages[ids.index(page_id)], answers)
    appeared = [i for i in shown_after if i not in shown_before and not has_answer(answers, declined, i)]
    if go == "next" and appeared:
        return page_id
    if declined_item and any(not has_answer(answers, declined, i) for i in shown_after):
        return page_id
    index = ids.index(page_id)
    if go == "back":
        return ids[index - 1] if index > 0 else page_id
    if go == "review":
        return None
    return ids[index + 1] if index + 1 < len(ids) else None
