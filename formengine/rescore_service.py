"""Rescoring inside an app: the current rules of each instrument, and the job the worker runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask
from sqlalchemy.orm import Session

from formengine.instruments import Instrument
from formengine.rescoring import RescoreError, Target, execute_run


def rescorable(app: Flask) -> list[Instrument]:
    """Installed instruments that compute scores, by id."""
    from formengine.registry import get_registry

    registry = get_registry(app)
    return [registry.instruments[i] for i in sorted(registry.instruments)
            if registry.instruments[i].score is not None]


def targets_for(app: Flask, instrument_ids: Iterable[str] | None = None) -> dict[str, Target]:
    """Instrument id -> its current scoring rules (scoring version, norm pack, options)."""
    from formengine.scoring_context import scoring_context

    known = {i.id: i for i in rescorable(app)}
    ids = list(known) if instrument_ids is None else list(instrument_ids)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise RescoreError(f"cannot rescore {', '.join(unknown)}: not an installed instrument with scores "
                           f"(installed: {', '.join(known) or 'none'})")
    return {i: Target(known[i], scoring_context(app, known[i]), _per_municipality(app, known[i]))
            for i in ids}


def _per_municipality(app: Flask, instrument: Instrument):
    """The scoring context of one municipality's responses: its plugin settings for the instrument."""
    from formengine.db import get_db
    from formengine.scoring_context import scoring_context

    def context_for(municipality_id: int | None):
        with get_db(app).session() as session:
            return scoring_context(app, instrument, session=session, municipality_id=municipality_id)

    return context_for


def run_rescore_job(app: Flask, run_id: int) -> None:
    """Carry out (or resume) run ``run_id``; what the job worker calls."""
    from formengine.db import get_db
    from formengine.models import RescoreRun

    with get_db(app).session() as session:
        run = session.get(RescoreRun, run_id)
        if run is None:
            return
        targets = targets_for(app, [i for i in run.instruments if i in {x.id for x in rescorable(app)}])
        execute_run(session, run_id, targets, resume=True, on_alerts=alert_notifier(app))


def alert_notifier(app: Flask) -> Callable[[Session, list[int]], None]:
    """What a run calls after each batch: ``formengine_alert`` once for each alert the batch raised
    (the batch passes the responses it raised alerts for)."""
    from formengine.alerts import notify
    from formengine.registry import get_registry

    registry = get_registry(app)

    def on_alerts(session: Session, response_ids: list[int]) -> None:
        for start in range(0, len(response_ids), 1000):
            notify(session, registry, response_ids=response_ids[start:start + 1000])
            session.commit()

    return on_alerts
