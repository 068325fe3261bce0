"""``formengine rescore`` and ``formengine worker``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from formengine.db import get_db
from formengine.registry import current_flask_app
from formengine.rescoring import (
    RescoreError,
    Summary,
    active_run,
    execute_run,
    is_stale,
    municipality_id_by_name,
    start_run,
)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _print(title: str, summary: Summary) -> None:
    click.echo(title)
    for line in summary.lines():
        click.echo(f"  {line}")


@click.command("rescore")
@click.argument("instrument_ids", nargs=-1)
@click.option("--municipality", "municipality_name", help="Only this municipality's responses.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before rescoring.")
@with_appcontext
def rescore_command(instrument_ids: tuple[str, ...], municipality_name: str | None, dry_run: bool,
                    yes: bool) -> None:
    """Recompute the scores of submitted responses under the current scoring rules and norm packs.

    INSTRUMENT_IDS default to every installed instrument with scores. Old score
    rows are kept. Shows what would change (responses rescored, valid <-> invalid,
    band changes per band) and asks before writing. An interrupted run is resumed.
    """
    from formengine.rescore_service import alert_notifier, targets_for

    app = current_flask_app()
    try:
        targets = targets_for(app, instrument_ids or None)
    except RescoreError as exc:
        _fail(str(exc))
    with get_db(app).session() as session:
        municipality_id = None
        if municipality_name:
            municipality_id = municipality_id_by_name(session, municipality_name)
            if municipality_id is None:
                _fail(f"unknown municipality {municipality_name!r}")
        active = active_run(session)
        if active is not None:
            if not is_stale(active):
                _fail(f"rescoring is refused: run #{active.id} "
                      f"({', '.join(active.instruments)}) is {active.status}")
            click.echo(f"Resuming interrupted run #{active.id} ({', '.join(active.instruments)}).")
            run = execute_run(session, active.id, targets_for(app, active.instruments), resume=True,
                              on_alerts=alert_notifier(app))
            _print("Done:" if not run.dry_run else "Preview:", Summary.from_dict(run.summary))
            return
        try:
            preview = start_run(session, targets, municipality_id=municipality_id, dry_run=True,
                                reason="command line")
            preview = execute_run(session, preview.id, targets)
        except RescoreError as exc:
            _fail(str(exc))
        summary = Summary.from_dict(preview.summary)
        _print(f"Preview ({', '.join(targets)}):", summary)
        if dry_run:
            return
        if summary.rescored == 0:
            click.echo("Nothing to rescore: every response is under the current rules.")
            return
        if not yes and not click.confirm(f"Rescore {summary.rescored} responses?", default=False):
            click.echo("Nothing changed.")
            return
        try:
            run = start_run(session, targets, municipality_id=municipality_id, reason="command line")
            run = execute_run(session, run.id, targets, on_alerts=alert_notifier(app))
        except RescoreError as exc:
            _fail(str(exc))
        _print(f"Rescored (run #{run.id}; old score rows kept):", Summary.from_dict(run.summary))


@click.command("worker")
@click.option("--workers", default=1, show_default=True, help="Jobs run at the same time.")
@with_appcontext
def worker_command(workers: int) -> None:
    """Run background jobs (rescoring started from the administration pages) until interrupted."""
    from formengine.jobs import run_worker

    run_worker(current_flask_app(), workers)
