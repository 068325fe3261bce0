"""The one current-score rule: which of a response's score rows every reader shows.

Score rows are only ever added (rescoring keeps the old rows as history), so
a response's **current score is its newest score row** — the one with the
highest id. Submitting writes a row under the instrument's scoring version
at that time; ``formengine rescore`` adds a row under the current scoring
version and norm packs. Until a response is rescored its current score stays
the one it was given, and every output names the scoring version that
produced it (:func:`scoring_versions_note` for pages that show several).

Readers use one of the three forms below; they are the same rule (a test
checks that they agree):

- :func:`current_of` for loaded rows (``Response.current_score``);
- :func:`current_score_id` in SQL (join ``Score.id == current_score_id()``),
  :func:`is_current_score` (join ``Score.response_id == Response.id`` where
  ``is_current_score()``: one anti-join, for reports over many responses),
  or :func:`current_score_ids_between` for a batch of responses;
- :func:`current_rows` to keep one row per response from a stream ordered by
  response then score id (reports and exports that read every row anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from formengine.models import Response, Score


def current_of(scores: Sequence[Score]) -> Score | None:
    """The current score among a response's score rows (None when it has none)."""
    return max(scores, key=lambda s: s.id or 0) if scores else None


def current_score_id(response_id: Any = None) -> Any:
    """SQL scalar subquery for the id of the current score of ``response_id`` (default: ``Response.id``)."""
    newer = aliased(Score)
    target = Response.id if response_id is None else response_id
    return select(func.max(newer.id)).where(newer.response_id == target).scalar_subquery()


def is_current_score(score: Any = Score) -> Any:
    """SQL condition: ``score`` (default ``Score``) is its response's current score — no newer row exists.

    For joins over many responses (reports): the planner can answer it with
    one anti-join instead of a subquery per row.
    """
    newer = aliased(Score)
    return ~select(newer.id).where(newer.response_id == score.response_id, newer.id > score.id).exists()


def current_score_ids_between(first: int, last: int) -> Any:
    """SQL selecting the current score ids of the responses with ids from ``first`` to ``last``.

    One grouped index range scan: cheaper than :func:`current_score_id` per row for a batch.
    """
    return (select(func.max(Score.id)).where(Score.response_id.between(first, last))
            .group_by(Score.response_id))


def current_rows(rows: Iterable[Any], response_of: Callable[[Any], Any] = lambda r: r[0].id,
                 ) -> Iterator[Any]:
    """From rows ordered by response and then score id, keep each response's current (last) row.

    ``response_of`` tells a row's response; by default rows are ``(Response, Score, ...)``.
    Streams: only one response's rows are held at a time.
    """
    last: Any = None
    key: Any = None
    for row in rows:
        row_key = response_of(row)
        if last is not None and row_key != key:
            yield last
        last, key = row, row_key
    if last is not None:
        yield last


def scoring_versions_note(versions: Iterable[str | None]) -> list[str]:
    """The distinct scoring versions shown together, sorted; a page notes them when there is more than one."""
    return sorted({v for v in versions if v}, key=_version_key)


def _version_key(version: str) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))
