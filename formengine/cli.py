"""The ``formengine`` command (click, via Flask's CLI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from formengine.app import create_app, get_registry
from formengine.instruments import AnswerError, Instrument, ScoringError


def _create_app(*_args: Any) -> Any:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             add_version_option=False, set_debug_flag=False)
def main() -> None:
    """formengine: questionnaires as data, instruments as plugins."""


def fail(message: str, code: int = 1) -> None:
    """One clear line on stderr and a non-zero exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@main.command("plugins")
@with_appcontext
def plugins_command() -> None:
    """List loaded plugins, where each came from, their instruments, and any that failed."""
    registry = get_registry()
    click.echo("Loaded plugins:")
    if not registry.loaded:
        click.echo("  (none)")
    for plugin in registry.loaded:
        version = f" {plugin.version}" if plugin.version else ""
        click.echo(f"  {plugin.name}{version}  [{plugin.source}]")
        for instrument_id in plugin.instruments:
            instrument = registry.instruments[instrument_id]
            click.echo(f"    - {instrument_id} {instrument.version} (scoring {instrument.scoring_version})")
    if registry.failed:
        click.echo("Failed or refused:")
        for problem in registry.failed:
            click.echo(f"  {problem.name}  [{problem.source}]: {problem.reason}")


def _instrument(instrument_id: str) -> Instrument:
    registry = get_registry()
    instrument = registry.get(instrument_id)
    if instrument is None:
        known = ", ".join(sorted(registry.instruments)) or "none"
        fail(f"unknown instrument {instrument_id!r} (installed: {known})")
    return instrument


def _score_one(instrument: Instrument, answers: Any) -> dict[str, Any]:
    from formengine.scoring_context import scoring_context

    if not isinstance(answers, dict):
        raise AnswerError(["answers must be a JSON object of item id -> code"])
    result = instrument.score_answers(answers, scoring_context(current_app, instrument))
    return instrument.result_json(result)


@main.command("score")
@click.argument("instrument_id")
@click.argument("answers_file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="JSON Lines file: one answer set per line in, one result per line out.")
@with_appcontext
def score_command(instrument_id: str, answers_file: str | None, batch_file: str | None) -> None:
    """Score ANSWERS_FILE ({"item_id": code, ...}) with INSTRUMENT_ID and print the result as JSON."""
    instrument = _instrument(instrument_id)
    if (answers_file is None) == (batch_file is None):
        fail("give either ANSWERS.json or --batch ANSWERS.jsonl")
    if batch_file is not None:
        _score_batch(instrument, batch_file)
        return
    try:
        raw = _read(answers_file)
        answers = json.loads(raw)
    except OSError as exc:
        fail(f"cannot read {answers_file}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"{answers_file} is not valid JSON: {exc}")
    try:
        result = _score_one(instrument, answers)
    except AnswerError as exc:
        fail(f"{instrument.id}: {exc}")
    except ScoringError as exc:
        fail(str(exc))
    click.echo(json.dumps(result, ensure_ascii=False))


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text("utf-8")


def _score_batch(instrument: Instrument, batch_file: str) -> None:
    try:
        lines = _read(batch_file).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {batch_file}: {exc}")
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out = _score_one(instrument, json.loads(line))
        except ValueError as exc:  # AnswerError is a ValueError too
            message = str(exc) if isinstance(exc, AnswerError) else f"not valid JSON: {exc}"
            out = {"line": number, "error": message}
            failures += 1
        except ScoringError as exc:
            out = {"line": number, "error": str(exc)}
            failures += 1
        click.echo(json.dumps(out, ensure_ascii=False))
    if failures:
        click.echo(f"error: {failures} line(s) could not be scored", err=True)
        sys.exit(1)


@main.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the database schema, or upgrade it to the newest version."""
    from formengine.db import get_db

    get_db().upgrade()
    click.echo("Database is up to date.")


@main.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create or upgrade the schema and load the demo data (for demonstration only)."""
    from formengine.db import get_db
    from formengine.demo import load_demo

    db = get_db()
    db.upgrade()
    with db.session() as session:
        summary = load_demo(session, get_registry())
    click.echo(summary)
