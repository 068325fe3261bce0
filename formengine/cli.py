"""The ``formengine`` command (click, via Flask's CLI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from formengine.app import create_app
from formengine.instruments import AnswerError, Instrument, ScoringContext, ScoringError
from formengine.registry import current_flask_app, get_registry


def _create_app(*_args: Any) -> Any:
    context = click.get_current_context(silent=True)
    if context is not None and getattr(context.command, "stateless", False):
        return create_app({"STATELESS": True})
    return create_app()


def stateless(command: click.Command) -> click.Command:
    """Mark a command that only reads plugins: its app writes no file and opens no database."""
    command.stateless = True  # type: ignore[attr-defined]
    return command


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             add_version_option=False, set_debug_flag=False)
def main() -> None:
    """formengine: questionnaires as data, instruments as plugins."""


def _stored_versions() -> dict[str, dict[str, int]]:
    """Definition versions of the stored responses; empty when the database has no schema yet."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from formengine.db import get_db
    from formengine.definition_versions import stored_versions

    try:
        with get_db(current_app).session() as session:
            return stored_versions(session)
    except (OperationalError, ProgrammingError):
        return {}


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@main.command("plugins")
@with_appcontext
def plugins_command() -> None:
    """List each plugin once: where it came from, its state, its instruments or why it was refused.

    Exits non-zero when any plugin was refused, so a deployment can check it.
    """
    registry = get_registry()
    stored = _stored_versions()
    failed: dict[tuple[str, str], list[str]] = {}
    for problem in registry.failed:
        failed.setdefault((problem.name, problem.source), []).append(problem.reason)
    if not registry.loaded and not failed:
        click.echo("No plugins found.")
    for plugin in registry.loaded:
        version = f" {plugin.version}" if plugin.version else ""
        click.echo(f"{plugin.name}{version}  loaded  [{plugin.source}]")
        for instrument_id in plugin.instruments:
            instrument = registry.instruments[instrument_id]
            click.echo(f"    - {instrument_id} {instrument.version} (scoring {instrument.scoring_version})")
            older = {v: n for v, n in stored.get(instrument_id, {}).items() if v != instrument.version}
            if older:
                listed = ", ".join(f"{v} ({n})" for v, n in sorted(older.items()))
                click.echo(f"      responses under older definition versions: {listed}")
    for (name, source), reasons in failed.items():
        click.echo(f"{name}  FAILED  [{source}]")
        for reason in reasons:
            click.echo(f"    {reason}")
    if failed:
        click.echo(f"error: {len(failed)} plugin(s) failed to load", err=True)
        sys.exit(1)


@main.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to create the plugin project NAME/ in.")
def new_plugin_command(name: str, directory: Path) -> None:
    """Write a new instrument plugin project NAME/ that installs and passes its tests as generated."""
    from formengine.scaffold import ScaffoldError, new_plugin

    try:
        project = new_plugin(name, directory)
    except ScaffoldError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the plugin: {exc}")
    click.echo(f"Created the plugin project {project}")
    click.echo(f"Next: cd {project} && pip install -e . && pytest && formengine plugins")
    click.echo("Guide: docs/plugins.md")


def _instrument(instrument_id: str) -> Instrument:
    registry = get_registry()
    instrument = registry.get(instrument_id)
    if instrument is None:
        known = ", ".join(sorted(registry.instruments)) or "none"
        fail(f"unknown instrument {instrument_id!r} (installed: {known})")
    return instrument


def _score_one(instrument: Instrument, answers: Any, context: ScoringContext | None = None) -> dict[str, Any]:
    """Read ``answers`` through the codec once, score them, and give the command's JSON shape."""
    if context is None:
        from formengine.scoring_context import scoring_context

        context = scoring_context(current_app, instrument)
    answers = instrument.definition.validate_answers(answers)  # the codec; refuses naming the item
    result = instrument.score_guarded(answers, context, validated=True)
    if result.error is not None:
        # The plugin raised: an error line like any other refusal, never a traceback.
        raise ScoringError(f"{instrument.id}: scoring failed: {result.error}")
    return instrument.result_json(result)


@stateless
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
    assert answers_file is not None  # exactly one of the two, checked above
    try:
        raw = _read(answers_file)
        answers = json.loads(raw)
    except OSError as exc:
        fail(f"cannot read {answers_file}: {exc.strerror or exc}")
    except (ValueError, RecursionError) as exc:
        fail(f"{answers_file} is not valid JSON: {str(exc)[:200]}")
    try:
        result = _score_one(instrument, answers)
    except AnswerError as exc:
        fail(f"{instrument.id}: {exc}")
    except ScoringError as exc:
        fail(str(exc))
    click.echo(json.dumps(result, ensure_ascii=False))


@stateless
@main.command("preview")
@click.argument("source")
@click.option("--lang", type=click.Choice(["da", "en"]), default="da", show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              show_default=True, help="Write the HTML page here ('-' prints it).")
@with_appcontext
def preview_command(source: str, lang: str, out_file: str) -> None:
    """Every step of SOURCE as one HTML page: a definition JSON file, or an installed instrument's id.

    Needs no database and writes nothing but OUT. Open the page in a browser;
    run it again after editing the definition (or use `formengine run --reload`).
    """
    from formengine.instruments import DefinitionError, load_definition
    from formengine.preview import render_preview

    if source.endswith(".json") or Path(source).is_file():
        try:
            definition = load_definition(source)
        except DefinitionError as exc:
            fail(str(exc))
    else:
        definition = _instrument(source).definition
    html = render_preview(current_flask_app(), definition, lang)
    if out_file == "-":
        click.echo(html)
        return
    try:
        Path(out_file).write_text(html, "utf-8")
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    click.echo(f"Wrote {out_file}: {len(definition.pages)} step(s) of {definition.id} {definition.version}")


@main.command("run")
@click.option("--host", "-h", default="127.0.0.1", show_default=True)
@click.option("--port", "-p", default=5000, show_default=True, type=int)
@click.option("--reload/--no-reload", default=None,
              help="Restart when code, definitions, templates or packs change (default: with --debug).")
@click.option("--debug/--no-debug", default=None, help="Flask's debug mode (also turns --reload on).")
@click.pass_context
def run_command(ctx: click.Context, host: str, port: int, reload: bool | None, debug: bool | None) -> None:
    """Development server. With --reload it restarts on any change to a plugin's code, definition
    files or templates, to instance/plugins/, the wording and norm packs, and the core's templates."""
    from flask.cli import run_command as flask_run

    from formengine.preview import watched_files

    extra: list[str] = []
    if reload or (reload is None and debug):
        with _create_app().app_context():
            extra = watched_files(current_flask_app())
    ctx.invoke(flask_run, host=host, port=port, reload=reload, debugger=debug, with_threads=True,
               cert=None, extra_files=extra, exclude_patterns=None)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text("utf-8")


def _score_batch(instrument: Instrument, batch_file: str) -> None:
    try:
        lines = _read(batch_file).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {batch_file}: {exc}")
    from formengine.scoring_context import scoring_context

    context = scoring_context(current_app, instrument)  # one context for every line
    failures = 0
    out_lines: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out = _score_one(instrument, json.loads(line), context)
        except (ValueError, RecursionError) as exc:  # AnswerError is a ValueError too
            message = str(exc) if isinstance(exc, AnswerError) else f"not valid JSON: {str(exc)[:200]}"
            out = {"line": number, "error": message}
            failures += 1
        except ScoringError as exc:
            out = {"line": number, "error": str(exc)}
            failures += 1
        out_lines.append(json.dumps(out, ensure_ascii=False))
        if len(out_lines) >= 1000:  # written in chunks: one write per line costs as much as validating it
            click.echo("\n".join(out_lines))
            out_lines.clear()
    if out_lines:
        click.echo("\n".join(out_lines))
    if failures:
        click.echo(f"error: {failures} line(s) could not be scored", err=True)
        sys.exit(1)


@main.command("wording")
@with_appcontext
def wording_command() -> None:
    """List, per instrument and language, which wording forms show: a wording pack or the project labels."""
    from formengine.wording import wording_packs

    registry = get_registry()
    packs = wording_packs(current_flask_app())
    click.echo(f"Wording packs directory: {packs.directory}")
    for instrument in registry.sorted_instruments():
        for lang in ("da", "en"):
            pack = packs.get(instrument.id, lang)
            if pack is not None:
                click.echo(f"  {instrument.id} {lang}: wording pack {pack.path.name if pack.path else ''} "
                           f"- {pack.source} (sha256 {pack.sha256[:12]}...)")
                for warning in pack.warnings:
                    click.echo(f"      warning: {warning}")
            else:
                licensed = instrument.definition.licence.get("official_wording_licensed", False)
                note = " (official wording not installed)" if licensed else ""
                click.echo(f"  {instrument.id} {lang}: project labels{note}")
    problems = [status for status in packs.statuses if status.error]
    if problems:
        click.echo("Refused packs:")
        for status in problems:
            click.echo(f"  {status.error}")


@main.command("norms")
@with_appcontext
def norms_command() -> None:
    """List installed norm packs (instance/norms/) and any that were refused, with the reason."""
    from formengine.norms import norm_packs

    packs = norm_packs(current_flask_app())
    click.echo(f"Norm packs directory: {packs.directory}")
    if not packs.statuses:
        click.echo("  (none installed)")
    for status in packs.statuses:
        if status.error:
            click.echo(f"  refused: {status.error}")
        else:
            click.echo(f"  {status.instrument_id}: {status.source} (sha256 {(status.sha256 or '')[:12]}...)")
    _offer_rescoring()


def _offer_rescoring() -> None:
    """After norm packs were installed or removed: say which stored scores were made under other rules."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from formengine.db import get_db
    from formengine.rescore_service import targets_for
    from formengine.rescoring import outdated_counts

    try:
        with get_db(current_app).session() as session:
            outdated = outdated_counts(session, targets_for(current_flask_app()))
    except (OperationalError, ProgrammingError):
        return
    for instrument_id, count in sorted(outdated.items()):
        click.echo(f"  {instrument_id}: {count} stored responses were scored under another scoring version "
                   f"or norm pack; `formengine rescore {instrument_id}` shows what would change")


@main.command("init-db")
@click.option("--app-role", default=None, metavar="NAME",
              help="PostgreSQL: give role NAME the application's least privileges after upgrading "
                   "(default: FORMENGINE_DATABASE_APP_ROLE). Run this as the owner role.")
@click.option("--create-app-role", is_flag=True, help="Create the --app-role (LOGIN) if it is missing.")
@with_appcontext
def init_db_command(app_role: str | None, create_app_role: bool) -> None:
    """Create the database schema, or upgrade it to the newest version."""
    from formengine.db import get_db
    from formengine.dbroles import RoleError

    role = app_role or current_app.config.get("DATABASE_APP_ROLE") or None
    try:
        get_db().upgrade(app_role=role, create_app_role=create_app_role)
    except RoleError as exc:
        fail(f"{exc}; nothing was changed")
    _backfill_definitions()
    click.echo("Database is up to date.")
    if role:
        click.echo(f"Role {role} may use the data and only add to and read the audit trail.")


def _backfill_definitions() -> None:
    """Keep definition copies for responses stored before copies were kept (see definition_versions)."""
    from formengine.db import get_db
    from formengine.definition_versions import backfill_definitions

    with get_db().session() as session:
        notes = backfill_definitions(session, get_registry())
        session.commit()
    for note in notes:
        click.echo(f"note: {note}")


@main.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def audit_verify_command() -> None:
    """Recompute the audit trail's hash chain; report the first broken link (exit 1) or that it is intact."""
    from formengine.audit import verify
    from formengine.db import get_db

    with get_db().session() as session:
        result = verify(session)
    if result.ok:
        click.echo(f"Audit trail intact: {result.events} events, newest hash {result.last_hash}")
        return
    where = (f"at event {result.broken_event_id}" if result.broken_event_id is not None
             else f"after the last event ({result.events} checked)")
    click.echo(f"Audit trail broken {where}: {result.reason}", err=True)
    sys.exit(1)


@main.command("purge-practice")
@with_appcontext
def purge_practice_command() -> None:
    """Delete practice fills older than PRACTICE_KEEP_DAYS (run daily, e.g. from cron)."""
    from formengine.db import get_db
    from formengine.practice import purge_practice

    with get_db().session() as session:
        count = purge_practice(session, int(current_app.config["PRACTICE_KEEP_DAYS"]))
    click.echo(f"Deleted {count} practice fill(s).")


@main.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create or upgrade the schema and load the demo data (for demonstration only)."""
    from formengine.db import get_db
    from formengine.demo import load_demo

    db = get_db()
    db.upgrade()
    with db.session() as session:
        summary = load_demo(session, get_registry(), cases=True)
    click.echo(summary)


@main.command("import-responses")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--create-municipalities", is_flag=True,
              help="Create municipalities named in the file that do not exist yet.")
@with_appcontext
def import_responses_command(file: str, create_municipalities: bool) -> None:
    """Import paper and phone answers from FILE (.jsonl, or .csv in the long export's layout).

    One bad line means nothing is imported; every bad line is listed with its reason.
    """
    from formengine.alerts import notify
    from formengine.audit import record
    from formengine.db import get_db
    from formengine.imports import ImportFailed, import_responses, read_csv, read_jsonl
    from formengine.scoring_context import scoring_context

    try:
        raw = _read(file)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    registry = get_registry()
    records = read_csv(raw, registry) if file.lower().endswith(".csv") else read_jsonl(raw)
    app = current_flask_app()
    try:
        with get_db().session() as session:
            summary = import_responses(
                session, registry, records, create_municipalities=create_municipalities,
                context_for=lambda instrument, municipality_id: scoring_context(
                    app, instrument, session=session, municipality_id=municipality_id),
            )
            record(session, "create", "import", Path(file).name,
                   {"responses": summary.responses, "duplicates": summary.duplicates,
                    "families": summary.families, "persons": summary.persons,
                    "cleared": summary.cleared},
                   username="command line")
            for uuid, (municipality_id, items) in summary.cleared_items.items():
                # As at a tablet submit: which answers a display condition hid and were removed (ids only).
                record(session, "clear", "response", uuid, {"items": items, "reason": "hidden_by_condition"},
                       username="command line", municipality_id=municipality_id)
            session.commit()
            notify(session, registry)  # formengine_alert once for each alert the import raised
    except ImportFailed as exc:
        fail(str(exc))
    click.echo(summary.describe())


@main.group("report")
def report_group() -> None:
    """Reports for evaluators."""


@report_group.command("progression")
@click.argument("instrument_id")
@click.argument("score_name")
@click.option("--from", "from_wave", default="1", show_default=True,
              help="First measurement: a number (1 = baseline), first, last or closing.")
@click.option("--to", "to_wave", default="2", show_default=True, help="Second measurement (as --from).")
@click.option("--municipality", "municipality_name", default=None, help="Only this municipality.")
@click.option("--role", default=None, help="Respondent's role: child, youth, parent or other.")
@click.option("--sex", default=None, help="Respondent's sex: female, male or not_stated.")
@click.option("--age-band", default=None,
              help="Respondent's age at the first measurement, e.g. 25-39 or 40+.")
@click.option("--subject-sex", default=None, help="Sex of the person the answers are about (the child).")
@click.option("--subject-age-band", default=None,
              help="Age of the person the answers are about at the first measurement, e.g. 6-11.")
@click.option("--enrolled-from", default=None, help="Families enrolled on or after YYYY-MM-DD.")
@click.option("--enrolled-to", default=None, help="Families enrolled on or before YYYY-MM-DD.")
@click.option("--by-municipality", is_flag=True, help="Add every municipality's figures side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def report_progression_command(instrument_id: str, score_name: str, from_wave: str, to_wave: str,
                               municipality_name: str | None, role: str | None, sex: str | None,
                               age_band: str | None, subject_sex: str | None, subject_age_band: str | None,
                               enrolled_from: str | None, enrolled_to: str | None, by_municipality: bool,
                               as_json: bool) -> None:
    """Paired progression of SCORE_NAME of INSTRUMENT_ID between two measurements (the web report's
    figures and filters, unsuppressed: for operators on the server)."""
    from datetime import date

    from sqlalchemy import select

    from formengine.db import get_db
    from formengine.models import PERSON_ROLES, SEXES, Municipality
    from formengine.reports import Filters, ReportError, progression_report
    from formengine.reports.data import parse_age_band
    from formengine.reports.progression import compare_municipalities

    def choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
        if value is not None and value not in allowed:
            fail(f"--{name}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def band(name: str, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse_age_band(value)
        except ValueError as exc:
            fail(f"--{name}: {exc}")
        return value

    def day(name: str, value: str | None) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            fail(f"--{name}: {value!r} is not a date like 2024-03-01")
        return None

    instrument = _instrument(instrument_id)
    with get_db().session() as session:
        municipality_ids = None
        if municipality_name is not None:
            municipality = session.scalar(select(Municipality).where(Municipality.name == municipality_name))
            if municipality is None:
                fail(f"unknown municipality {municipality_name!r}")
            municipality_ids = (municipality.id,)
        filters = Filters(municipality_ids=municipality_ids, role=choice("role", role, PERSON_ROLES),
                          sex=choice("sex", sex, SEXES), age_band=band("age-band", age_band),
                          subject_sex=choice("subject-sex", subject_sex, SEXES),
                          subject_age_band=band("subject-age-band", subject_age_band),
                          enrolled_from=day("enrolled-from", enrolled_from),
                          enrolled_to=day("enrolled-to", enrolled_to))
        try:
            report = progression_report(session, instrument, score_name, from_wave, to_wave, filters)
            side_by_side = (
                compare_municipalities(session, instrument, score_name, from_wave, to_wave, filters)
                if by_municipality else [])
        except ReportError as exc:
            fail(str(exc))
    summary = report.summary()
    if by_municipality:
        summary["municipalities"] = [{"municipality": name, **one.summary()} for name, one in side_by_side]
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    click.echo(f"{instrument_id} {score_name}: measurement {summary['from']} -> {summary['to']}")
    click.echo(f"  paired: {summary['n_paired']}; only the first: {summary['n_first_only']}")
    if summary["n_paired"]:
        click.echo(f"  mean {summary['mean_from']:.2f} -> {summary['mean_to']:.2f}; "
                   f"change {summary['mean_change']:+.2f}")
    if summary["ci95"]:
        low, high = summary["ci95"]
        click.echo(f"  95% CI of the change: {low:+.2f} to {high:+.2f}")
    if summary["p_t"] is not None:
        click.echo(f"  paired t-test p = {summary['p_t']:.4f}")
    if summary["p_wilcoxon"] is not None:
        click.echo(f"  Wilcoxon signed-rank p = {summary['p_wilcoxon']:.4f}")
    if summary["d_z"] is not None:
        click.echo(f"  d_z (change / SD of changes): {summary['d_z']:+.2f}")
    if summary["d_baseline"] is not None:
        click.echo(f"  Cohen's d (change / baseline SD): {summary['d_baseline']:+.2f}")
    if summary["hedges_g"] is not None:
        click.echo(f"  Hedges' g: {summary['hedges_g']:+.2f}")
    click.echo("  attrition: " + ", ".join(f"{k} {v}" for k, v in summary["attrition"].items()))


from formengine.admin_cli import admin_group  # noqa: E402 - registered after the core commands

main.add_command(admin_group)

from formengine.rescore_cli import rescore_command, worker_command  # noqa: E402

main.add_command(rescore_command)
main.add_command(worker_command)

from formengine.export_cli import export_command  # noqa: E402

main.add_command(export_command)
