"""Programme tables: answer distributions (background and progress forms) and index means (fidelity).

Nothing here names an instrument. Which instruments appear where is read from
their definitions:

- distributions are made for the choice and yes/no items of any instrument
  about a person that declares no scores (background and progress forms);
- index tables are made for instruments about the municipality that declare
  scores (the fidelity indexes): the mean of each score per municipality per round.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine.current_score import current_rows, scoring_versions_note
from formengine.instruments import Instrument, text
from formengine.models import Municipality, Person, Response, Score, Wave
from formengine.plugins import PluginRegistry
from formengine.reports.data import EVERYONE, Filters, age_on
from formengine.reports.disclosure import Line, protect, share
from formengine.reports.stats import mean

YES_NO = ((True, {"da": "Ja", "en": "Yes"}), (False, {"da": "Nej", "en": "No"}))


def distribution_items(instrument: Instrument) -> list[dict[str, Any]]:
    """Top-level choice and yes/no items: the ones a distribution table can show."""
    return [i for i in instrument.definition.items if i.get("type", "choice") in ("choice", "boolean")]


def distribution_instruments(registry: PluginRegistry) -> list[Instrument]:
    """Instruments about a person without scores, having at least one choice or yes/no item."""
    return [i for i in registry.sorted_instruments()
            if i.definition.subject == "person" and not i.definition.scores and distribution_items(i)]


def index_instruments(registry: PluginRegistry) -> list[Instrument]:
    """Instruments about the municipality that declare scores (indexes per round)."""
    return [i for i in registry.sorted_instruments()
            if i.definition.subject == "municipality" and i.definition.scores]


@dataclass
class ItemDistribution:
    """Counts per category of one item for each column (municipality or wave)."""

    item_id: str
    label: dict[str, str]
    categories: list[tuple[Any, dict[str, str]]]
    counts: dict[Any, dict[Any, int]] = field(default_factory=dict)  # column -> code -> count
    n: dict[Any, int] = field(default_factory=dict)  # column -> answered

    # after :meth:`protect`: what may be shown (None = withheld)
    shown: dict[Any, dict[Any, int | None]] = field(default_factory=dict)
    shown_n: dict[Any, int | None] = field(default_factory=dict)

    def share(self, column: Any, code: Any) -> float | None:
        """Share (0-1) of those who answered the item in ``column`` (unprotected)."""
        total = self.n.get(column, 0)
        return self.counts.get(column, {}).get(code, 0) / total if total else None

    def protect(self, columns: list[Any], threshold: int) -> None:
        """Fill ``shown``/``shown_n``: each column's counts add up to its n, which the table shows."""
        counts: dict[Any, int] = {}
        lines: list[Line] = []
        hidden = []
        codes = [code for code, _label in self.categories]
        for column in columns:
            by_code = self.counts.get(column, {})
            for code in codes:
                counts[(column, code)] = by_code.get(code, 0)
            counts[(column, "n")] = self.n.get(column, 0)
            parts = [(column, code) for code in codes]
            other = sum(v for code, v in by_code.items() if code not in codes)
            if other:
                counts[(column, "other")] = other
                hidden.append((column, "other"))
                parts.append((column, "other"))
            lines.append(Line(tuple(parts), (column, "n")))
        safe = protect(counts, lines, threshold, hidden)
        self.shown = {column: {code: safe[(column, code)] for code in codes} for column in columns}
        self.shown_n = {column: safe[(column, "n")] for column in columns}

    def shown_share(self, column: Any, code: Any) -> float | None:
        """The share that may be shown (None when the count or n is withheld, or nobody answered)."""
        return share(self.shown.get(column, {}).get(code), self.shown_n.get(column))


@dataclass
class DistributionTable:
    instrument_id: str
    by: str  # "municipality" or "wave"
    columns: list[tuple[Any, str]]  # (key, heading)
    items: list[ItemDistribution]
    respondents: dict[Any, int]  # column -> number of responses

    def protect(self, threshold: int) -> DistributionTable:
        """Apply small-cell suppression to every item (see :mod:`formengine.reports.disclosure`)."""
        keys = [key for key, _heading in self.columns]
        for item in self.items:
            item.protect(keys, threshold)
        return self


def _categories(instrument: Instrument, item: dict[str, Any]) -> list[tuple[Any, dict[str, str]]]:
    if item.get("type", "choice") == "boolean":
        return list(YES_NO)
    return [(o["code"], o["label"]) for o in instrument.definition.scale_options(item)]


def distributions(session: Session, instrument: Instrument, by: str = "municipality",
                  filters: Filters = EVERYONE) -> DistributionTable:
    """Share per category of every choice/yes-no item.

    ``by="municipality"``: each person's first submitted response (their
    earliest wave), one column per municipality. ``by="wave"``: each person's
    response at each wave, one column per wave number.
    """
    if by not in ("municipality", "wave"):
        raise ValueError("by must be 'municipality' or 'wave'")
    stmt = (
        select(Response, Wave.number, Person.role, Person.sex, Person.birth_date)
        .join(Wave, Wave.id == Response.wave_id)
        .outerjoin(Person, Person.id == Response.person_id)
        .where(Response.instrument_id == instrument.id, Response.status == "submitted")
        .order_by(Response.id)
    )
    stmt = filters.narrow(stmt, Person)
    age_range = filters.age_range()
    chosen: dict[tuple[Any, ...], tuple[Response, int]] = {}
    for response, number, _role, _sex, birth_date in session.execute(stmt):
        if age_range is not None:
            age = age_on(birth_date, (response.submitted_at or response.created_at).date())
            if age is None or age < age_range[0] or (age_range[1] is not None and age > age_range[1]):
                continue
        who = (response.person_id, response.about_person_id)
        key = who if by == "municipality" else (*who, number)
        current = chosen.get(key)
        if by == "municipality":
            if current is None or number < current[1]:
                chosen[key] = (response, number)
        else:
            chosen[key] = (response, number)  # later ids win within a wave
    names = dict(session.execute(select(Municipality.id, Municipality.name)).all())
    column_keys: list[Any]
    if by == "municipality":  # by name
        municipality_ids = {r.municipality_id for r, _n in chosen.values()}
        column_keys = sorted(municipality_ids, key=lambda k: names.get(k, "") if k is not None else "")
    else:  # by wave number
        column_keys = sorted({n for _r, n in chosen.values()})
    columns = [(k, names.get(k, str(k)) if by == "municipality" else str(k)) for k in column_keys]
    respondents: dict[Any, int] = defaultdict(int)
    items = [ItemDistribution(i["id"], i["label"], _categories(instrument, i))
             for i in distribution_items(instrument)]
    for response, number in chosen.values():
        column = response.municipality_id if by == "municipality" else number
        respondents[column] += 1
        for dist in items:
            if dist.item_id not in response.answers:
                continue
            code = response.answers[dist.item_id]
            dist.n[column] = dist.n.get(column, 0) + 1
            bucket = dist.counts.setdefault(column, {})
            bucket[code] = bucket.get(code, 0) + 1
    return DistributionTable(instrument.id, by, columns, items, dict(respondents))


@dataclass
class IndexRow:
    municipality_id: int
    municipality: str
    wave_number: int
    n: int
    means: dict[str, float | None]
    scoring_versions: list[str] = field(default_factory=list)


def index_table(session: Session, instrument: Instrument, filters: Filters = EVERYONE) -> list[IndexRow]:
    """Mean of each declared score per municipality per round, from valid current scores only."""
    stmt = (
        select(Response, Score, Wave.number)
        .join(Score, Score.response_id == Response.id)
        .join(Wave, Wave.id == Response.wave_id)
        .where(Response.instrument_id == instrument.id, Response.status == "submitted")
        .order_by(Response.id, Score.id)
    )
    if filters.municipality_ids is not None:
        stmt = stmt.where(Response.municipality_id.in_(filters.municipality_ids))
    values: dict[tuple[int, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    counts: dict[tuple[int, int], int] = defaultdict(int)
    versions: dict[tuple[int, int], set[str]] = defaultdict(set)
    for response, score, number in current_rows(session.execute(stmt)):
        if not score.valid:
            continue
        key = (response.municipality_id, number)
        counts[key] += 1
        versions[key].add(score.scoring_version)
        for name in instrument.definition.score_names:
            value = (score.scores or {}).get(name)
            if value is not None:
                values[key][name].append(float(value))
    names = dict(session.execute(select(Municipality.id, Municipality.name)).all())
    rows = [IndexRow(m, names.get(m, str(m)), n, counts[(m, n)],
                     {name: mean(values[(m, n)].get(name, [])) for name in instrument.definition.score_names},
                     scoring_versions_note(versions[(m, n)]))
            for (m, n) in counts]
    rows.sort(key=lambda r: (r.municipality, r.wave_number))
    return rows


def label(value: dict[str, str] | str, lang: str) -> str:
    """A definition text in ``lang``."""
    return text(value, lang)
