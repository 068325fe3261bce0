"""Rescoring: bring stored responses onto the current scoring rules, keeping the old score rows.

A run (:class:`~formengine.models.RescoreRun`) walks the submitted responses
of some instruments in id order, in batches of :data:`BATCH`, and for each
response whose current score was not computed by the instrument's current
scoring version and scoring context (norm pack, options) adds a new score
row, which becomes the current score (see :mod:`formengine.current_score`).
A preview (``dry_run``) computes the same summary and writes no score rows.

- Constant memory: keyset pagination on the response id; nothing is held
  between batches but the counts.
- Resumable: each batch's rows and the run's ``cursor`` commit together, so
  an interrupted run continues after its last committed batch; a response
  already under the current rules is skipped, so no duplicate rows appear.
- One at a time: a second run is refused while one is queued or running
  (a unique ``lock`` column); a run whose heartbeat stopped more than
  :data:`STALE_AFTER` ago counts as interrupted and may be resumed.

No Flask here: the caller hands in the targets (instrument + scoring context).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Text, cast, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from formengine import audit
from formengine.current_score import current_score_id, current_score_ids_between
from formengine.instruments import Instrument, ScoringContext
from formengine.models import Alert, Municipality, Person, RescoreRun, Response, Score, User, utcnow
from formengine.models.rescoring import ACTIVE
from formengine.responses import context_key

BATCH = 5000
STALE_AFTER = timedelta(minutes=5)


class RescoreError(RuntimeError):
    """A run cannot start or continue; the message says why."""


class RescoreBusy(RescoreError):
    """Another run is queued or running."""


@dataclass(frozen=True)
class Target:
    """An instrument to rescore and the scoring context it scores with now.

    ``context_for(municipality_id)``, when given, returns the context for one
    municipality's responses (its plugin settings); otherwise ``context`` is used.
    """

    instrument: Instrument
    context: ScoringContext = field(default_factory=ScoringContext)
    context_for: Callable[[int | None], ScoringContext] | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return context_key(self.context)

    def contexts(self) -> Callable[[int | None], tuple[ScoringContext, str]]:
        """A cached lookup municipality id -> (context, context key)."""
        cache: dict[int | None, tuple[ScoringContext, str]] = {}

        def lookup(municipality_id: int | None) -> tuple[ScoringContext, str]:
            found = cache.get(municipality_id)
            if found is None:
                context = self.context_for(municipality_id) if self.context_for else self.context
                found = cache[municipality_id] = (context, context_key(context))
            return found

        return lookup


@dataclass
class Summary:
    """What a run changed (or, for a preview, would change).

    ``bands`` counts band changes per score and band: ``{"mood.total":
    {"low → high": 3}}``.
    """

    examined: int = 0
    rescored: int = 0
    unchanged: int = 0
    changed: int = 0
    valid_to_invalid: int = 0
    invalid_to_valid: int = 0
    failed: int = 0
    bands: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"examined": self.examined, "rescored": self.rescored, "unchanged": self.unchanged,
                "changed": self.changed, "valid_to_invalid": self.valid_to_invalid,
                "invalid_to_valid": self.invalid_to_valid, "failed": self.failed,
                "bands": {k: dict(v) for k, v in self.bands.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Summary:
        data = dict(data or {})
        bands = {k: dict(v) for k, v in (data.pop("bands", None) or {}).items()}
        return cls(bands=bands, **{k: int(v) for k, v in data.items() if k in _COUNTS})

    def lines(self) -> list[str]:
        """The summary as short English lines (the command's output)."""
        out = [f"responses examined: {self.examined}",
               f"already under the current rules: {self.unchanged}",
               f"rescored: {self.rescored} (scores or bands changed in {self.changed})",
               f"valid -> invalid: {self.valid_to_invalid}",
               f"invalid -> valid: {self.invalid_to_valid}"]
        if self.failed:
            out.append(f"scoring failed (left as they were): {self.failed}")
        for score in sorted(self.bands):
            for change, count in sorted(self.bands[score].items()):
                out.append(f"band change {score}: {change}: {count}")
        return out


_COUNTS = ("examined", "rescored", "unchanged", "changed", "valid_to_invalid", "invalid_to_valid", "failed")


def score_stored(instrument: Instrument, answers: Mapping[str, Any], context: ScoringContext) -> Any:
    """Score answers that were validated when they were stored (no second validation pass)."""
    return instrument.score_validated(answers, context)


def start_run(session: Session, instrument_ids: Iterable[str], *, municipality_id: int | None = None,
              dry_run: bool = False, requested_by: int | None = None, reason: str = "") -> RescoreRun:
    """Create a queued run and commit it; :class:`RescoreBusy` when another run is active."""
    active = active_run(session)
    if active is not None:
        raise RescoreBusy(_busy_message(active))
    run = RescoreRun(instruments=sorted(set(instrument_ids)), municipality_id=municipality_id,
                     dry_run=dry_run, status="queued", lock=ACTIVE, requested_by=requested_by,
                     reason=reason[:100], created_at=utcnow(), cursor=0, summary=Summary().to_dict())
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        active = active_run(session)
        raise RescoreBusy(_busy_message(active) if active else "another rescoring run started just now"
                          ) from None
    return run


def active_run(session: Session) -> RescoreRun | None:
    """The queued or running run, if any."""
    return session.scalar(select(RescoreRun).where(RescoreRun.lock == ACTIVE))


def is_stale(run: RescoreRun) -> bool:
    """True when an active run has shown no sign of life for :data:`STALE_AFTER` (it was interrupted)."""
    last = run.heartbeat_at or run.started_at or run.created_at
    return run.lock == ACTIVE and last is not None and utcnow() - last > STALE_AFTER


def _busy_message(run: RescoreRun) -> str:
    kind = "preview" if run.dry_run else "rescoring"
    return (f"a {kind} run (#{run.id}, {', '.join(run.instruments)}) is {run.status}; "
            "wait for it to finish (concurrent rescoring is refused)")


def execute_run(session: Session, run_id: int, targets: Mapping[str, Target], *,
                resume: bool = False, batch: int = BATCH,
                on_alerts: Callable[[Session, list[int]], None] | None = None) -> RescoreRun:
    """Carry out run ``run_id`` batch by batch, committing each batch; returns the finished run.

    ``targets`` maps instrument id to its current scoring rules. With
    ``resume`` a run left running (interrupted) is continued from its cursor.
    Alert flags of the new scores are recorded as alerts in the batch's
    transaction (each code once per response, as on submit: one that was
    already raised, even acknowledged, is not raised again); after each batch
    is committed, ``on_alerts(session, response_ids)`` gets the responses
    with new alerts, so the caller can pass each alert to ``formengine_alert`` once.
    """
    run = session.get(RescoreRun, run_id)
    if run is None:
        raise RescoreError(f"no rescoring run #{run_id}")
    if run.status == "running" and not (resume or is_stale(run)):
        raise RescoreBusy(_busy_message(run))
    if run.status in ("done", "failed"):
        return run
    missing = [i for i in run.instruments if i not in targets]
    if missing:
        _finish(session, run, "failed", f"not installed: {', '.join(missing)}")
        raise RescoreError(f"cannot rescore {', '.join(missing)}: not installed")
    run.status, run.started_at, run.heartbeat_at = "running", run.started_at or utcnow(), utcnow()
    session.commit()
    summary = Summary.from_dict(run.summary)
    wanted = {i: targets[i] for i in run.instruments}
    keys = {i: t.contexts() for i, t in wanted.items()}
    memo: dict[str, Any] = {}
    try:
        while True:
            done = _batch(session, run, wanted, keys, summary, batch, memo)
            run.summary = summary.to_dict()
            run.heartbeat_at = utcnow()
            session.commit()
            alerted = memo.pop("alerts", None)
            if alerted and on_alerts is not None:
                on_alerts(session, alerted)
            if not done:
                break
    except Exception as exc:
        session.rollback()
        _finish(session, run, "failed", f"{type(exc).__name__}: {exc}"[:500])
        raise
    _finish(session, run, "done")
    return run


def _finish(session: Session, run: RescoreRun, status: str, error: str | None = None) -> None:
    run.status, run.lock, run.finished_at, run.error = status, None, utcnow(), error
    if not run.dry_run:
        user = session.get(User, run.requested_by) if run.requested_by else None
        audit.record(session, "rescore", "rescore_run", run.id,
                     {"instruments": run.instruments, "status": status, "summary": run.summary,
                      **({"error": error} if error else {})},
                     user=user, username=None if user else "formengine rescore",
                     municipality_id=run.municipality_id)
    session.commit()


class _Scored:
    """One answer set's new score row, worked out once per run (scoring is pure: same answers,
    same context, same result), with its JSON already written out for the database."""

    __slots__ = ("alerts", "bands", "copy_head", "copy_tail", "row", "scores", "valid")

    def __init__(self, result: Any, instrument: Instrument, key: str, context: ScoringContext, run_id: int):
        self.valid = bool(result.valid)
        self.scores = dict(result.scores)
        self.bands = dict(result.bands)
        self.alerts = [(f.code, f.message) for f in result.alerts()]
        flags = [f.to_dict() for f in result.flags]
        options = dict(context.options)
        # every column after response_id and instrument_version (see _COPY_COLUMNS)
        self.row = {"scoring_version": instrument.scoring_version, "valid": self.valid,
                    "scores": self.scores, "bands": self.bands, "flags": flags,
                    "context_key": key, "rescore_run_id": run_id, "error": None, "options": options}
        # the COPY columns before and after computed_at (which is each batch's own time)
        self.copy_head = "\t".join([
            _copy_text(instrument.scoring_version), "t" if self.valid else "f",
            _copy_text(_dumps(self.scores)), _copy_text(_dumps(self.bands)), _copy_text(_dumps(flags))])
        self.copy_tail = "\t".join([_copy_text(key), str(run_id), r"\N", _copy_text(_dumps(options))])


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and line breaks escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


class _Memo:
    """Decodes JSON text and caches what it decoded (score columns take few distinct values)."""

    def __init__(self, limit: int = 50_000):
        self.limit = limit
        self.seen: dict[Any, Any] = {}

    def __call__(self, text: Any) -> Any:
        if not isinstance(text, str):
            return text  # already decoded, or NULL
        found = self.seen.get(text)
        if found is None:
            if len(self.seen) >= self.limit:
                self.seen.clear()
            found = self.seen[text] = json.loads(text)
        return found


def _batch(session: Session, run: RescoreRun, targets: Mapping[str, Target],
           keys: Mapping[str, Callable[[int | None], tuple[ScoringContext, str]]],
           summary: Summary, size: int, memo: dict[str, Any] | None = None) -> int:
    """Rescore the next ``size`` responses after the cursor; returns how many were read.

    No ORM objects: rows are read as plain tuples with their JSON columns as
    text, each distinct answer set is scored once per run (``memo``), and the
    new score rows go to the database in one COPY (PostgreSQL) or one
    executemany INSERT.
    """
    memo = {} if memo is None else memo
    decoded = memo.setdefault("json", _Memo())
    scored: dict[tuple[str, str, str], _Scored | None] = memo.setdefault("scored", {})
    if len(scored) > 100_000:
        scored.clear()
    # Two index-range queries per batch: the next responses after the cursor, then their current
    # scores (a join per row would make PostgreSQL hash the whole score table for every batch).
    stmt = (
        select(Response.id, Response.instrument_id, Response.instrument_version,
               cast(Response.answers, Text), Response.municipality_id)
        .where(Response.id > run.cursor, Response.status == "submitted",
               Response.instrument_id.in_(list(targets)))
        .order_by(Response.id)
        .limit(size)
    )
    if run.municipality_id is not None:
        stmt = stmt.where(Response.municipality_id == run.municipality_id)
    responses = session.execute(stmt).all()
    if not responses:
        return 0
    ids = [r[0] for r in responses]
    current = {row[0]: row[1:] for row in session.execute(
        select(Score.response_id, Score.scoring_version, Score.context_key, Score.valid,
               cast(Score.scores, Text), cast(Score.bands, Text), Score.error)
        .where(Score.id.in_(current_score_ids_between(ids[0], ids[-1]))))}
    none = (None,) * 6
    new_rows: list[tuple[int, str, _Scored]] = []
    alerting: list[tuple[int, _Scored]] = []
    now = utcnow()
    for rid, instrument_id, iversion, answers_text, municipality_id in responses:
        sversion, ckey, valid, scores_text, bands_text, error = current.get(rid, none)
        summary.examined += 1
        instrument = targets[instrument_id].instrument
        context, key = keys[instrument_id](municipality_id)
        # a "scoring failed" row is retried even under the current rules (the plugin may be fixed)
        if sversion == instrument.scoring_version and ckey == key and error is None:
            summary.unchanged += 1
            continue
        text = answers_text if isinstance(answers_text, str) else _dumps(answers_text)
        memo_key = (instrument_id, key, text)
        if memo_key in scored:
            new = scored[memo_key]
        else:
            try:
                answers = json.loads(answers_text) if isinstance(answers_text, str) else answers_text
                result = score_stored(instrument, answers or {}, context)
                new = _Scored(result, instrument, key, context, run.id)
            except Exception:  # noqa: BLE001 - plugin code: a failure is counted and the old score stays
                new = None
            scored[memo_key] = new
        if new is None:
            summary.failed += 1
            continue
        summary.rescored += 1
        scores, bands = decoded(scores_text) or {}, decoded(bands_text) or {}
        if sversion is None or new.valid != valid or new.scores != scores or new.bands != bands:
            summary.changed += 1
        if valid is not None and valid and not new.valid:
            summary.valid_to_invalid += 1
        elif valid is not None and not valid and new.valid:
            summary.invalid_to_valid += 1
        if new.bands != bands:
            for name in sorted(set(new.bands) | set(bands)):
                before, after = bands.get(name), new.bands.get(name)
                if before != after:
                    per = summary.bands.setdefault(f"{instrument_id}.{name}", {})
                    change = f"{before or '-'} → {after or '-'}"
                    per[change] = per.get(change, 0) + 1
        if not run.dry_run:
            new_rows.append((rid, iversion, new))
            if new.alerts:
                alerting.append((rid, new))
    if new_rows:
        _insert_scores(session, new_rows, now)
    if alerting:
        memo.setdefault("alerts", []).extend(_raise_alerts(session, alerting, now))
    run.cursor = ids[-1]
    return len(ids)


_COPY_COLUMNS = ("response_id", "instrument_version", "scoring_version", "valid", "scores", "bands", "flags",
                 "computed_at", "context_key", "rescore_run_id", "error", "options")


def _insert_scores(session: Session, rows: list[tuple[int, str, _Scored]], now: Any) -> None:
    """Add score rows in the session's transaction: one COPY on PostgreSQL, else one executemany INSERT."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        session.execute(insert(Score), [{"response_id": rid, "instrument_version": iversion,
                                         "computed_at": now, **new.row} for rid, iversion, new in rows])
        return
    raw: Any = connection.connection.driver_connection  # psycopg's own connection (checked above)
    stamp = now.isoformat()
    data = "".join(f"{rid}\t{_copy_text(iversion)}\t{new.copy_head}\t{stamp}\t{new.copy_tail}\n"
                   for rid, iversion, new in rows)
    with raw.cursor() as cursor, cursor.copy(f"COPY score ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
        copy.write(data)


def _raise_alerts(session: Session, alerting: list[tuple[int, _Scored]], now: Any) -> list[int]:
    """Record the alert flags the new scores raise (each code once per response, as on submit).

    Returns the ids of the responses that got a new alert, for ``formengine_alert``
    (see :func:`execute_run`).
    """
    ids = [rid for rid, _ in alerting]
    known: set[tuple[int, str]] = {(rid, code) for rid, code in session.execute(
        select(Alert.response_id, Alert.code).where(Alert.response_id.in_(ids)))}
    subject_id = func.coalesce(Response.about_person_id, Response.person_id)
    about = {row[0]: row[1:] for row in session.execute(
        select(Response.id, Response.municipality_id, Response.instrument_id, subject_id, Person.family_id)
        .outerjoin(Person, Person.id == subject_id)
        .where(Response.id.in_(ids)))}
    rows = []
    for rid, new in alerting:
        municipality_id, instrument_id, person_id, family_id = about[rid]
        for code, message in new.alerts:
            if (rid, code) in known:
                continue
            known.add((rid, code))
            rows.append({"response_id": rid, "municipality_id": municipality_id, "family_id": family_id,
                         "person_id": person_id, "instrument_id": instrument_id, "code": code,
                         "message": message[:500], "raised_at": now})
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        raw: Any = connection.connection.driver_connection
        columns = list(rows[0])
        with raw.cursor() as cursor, cursor.copy(f"COPY alert ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    else:
        session.execute(insert(Alert), rows)
    return sorted({row["response_id"] for row in rows})


def municipality_id_by_name(session: Session, name: str) -> int | None:
    return session.scalar(select(Municipality.id).where(Municipality.name == name))


def outdated_counts(session: Session, targets: Mapping[str, Target],
                    municipality_id: int | None = None) -> dict[str, int]:
    """Per instrument, how many submitted responses' current scores are not under the current rules.

    Used to offer (never force) rescoring after a scoring version changed, a
    norm pack was installed or removed, or a municipality's settings changed.
    """
    out: dict[str, int] = {}
    for instrument_id, target in targets.items():
        lookup = target.contexts()
        places = select(Response.municipality_id).distinct().where(Response.instrument_id == instrument_id)
        if municipality_id is not None:
            places = places.where(Response.municipality_id == municipality_id)
        count = 0
        for place in session.scalars(places).all():
            key = lookup(place)[1]
            stmt = (select(func.count())
                    .select_from(Response)
                    .join(Score, Score.id == current_score_id())
                    .where(Response.instrument_id == instrument_id, Response.status == "submitted",
                           Response.municipality_id.is_(None) if place is None
                           else Response.municipality_id == place,
                           or_(Score.scoring_version != target.instrument.scoring_version,
                               Score.context_key.is_(None), Score.context_key != key,
                               Score.error.is_not(None))))
            count += session.scalar(stmt) or 0
        if count:
            out[instrument_id] = count
    return out
