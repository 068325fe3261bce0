"""Rescoring benchmark: 1,000,000 stored WHO-5 responses brought onto a new scoring version.

    python bench/rescore.py --database-url postgresql+psycopg://USER@HOST/DB [--responses 1000000]

The database is emptied and migrated, then filled in bulk (COPY on
PostgreSQL) with submitted WHO-5 responses scored under scoring version "1".
The WHO-5 instrument is then given scoring version "bench-2" and measured:

1. the preview (a dry run: reads and scores every response, writes nothing);
2. the rescoring itself (adds one score row per response, commits per batch);
3. a second rescoring, which finds every response already current.

Figures are printed, never asserted. The target is the issue's: under 60 s for
1,000,000 responses on PostgreSQL on a 2-core machine; the ratio to it is
printed, with the process's peak resident memory after the data was built and
after each step (constant memory means it does not grow with the responses).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 60.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(url: str, n: int, instrument) -> None:
    """Empty and migrate the database, then COPY ``n`` scored WHO-5 responses into it."""
    from sqlalchemy import insert

    from formengine.db import Database
    from formengine.models import Municipality
    from formengine.responses import context_key
    from formengine.testing import reset_database

    db = Database(url)
    db.upgrade()
    reset_database(db.engine)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with db.engine.begin() as conn:
        conn.execute(insert(Municipality), [{"id": 1, "name": "Bench Kommune", "pseudonym_key": "k" * 64,
                                             "settings": {}, "cpr_enabled": False, "created_at": now}])
    rng = random.Random(1)
    key = context_key(None)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        stamp = now.isoformat()
        for start in range(0, n, 100_000):
            responses, scores = io.StringIO(), io.StringIO()
            for i in range(start + 1, min(n, start + 100_000) + 1):
                answers = {f"who5_{k}": rng.randint(0, 5) for k in range(1, 6)}
                result = instrument.score(answers, None)
                responses.write("\t".join([
                    str(i), str(uuid.UUID(int=i)), "1", "who5", instrument.version, "submitted",
                    json.dumps(answers), "[]", "paper", "da", '{"kind": "project_labels"}',
                    stamp, stamp, stamp, "1"]) + "\n")
                scores.write("\t".join([
                    str(i), str(i), instrument.version, "1", "t" if result.valid else "f",
                    json.dumps(result.scores), json.dumps(result.bands),
                    json.dumps([f.to_dict() for f in result.flags]), stamp, key]) + "\n")
            with cursor.copy("COPY response (id, uuid, municipality_id, instrument_id, instrument_version, "
                             "status, answers, declined, mode, language, wording, created_at, updated_at, "
                             "submitted_at, version) FROM STDIN") as copy:
                copy.write(responses.getvalue())
            with cursor.copy("COPY score (id, response_id, instrument_version, scoring_version, valid, "
                             "scores, bands, flags, computed_at, context_key) FROM STDIN") as copy:
                copy.write(scores.getvalue())
        cursor.execute("SELECT setval(pg_get_serial_sequence('response', 'id'), %s)", (n,))
        cursor.execute("SELECT setval(pg_get_serial_sequence('score', 'id'), %s)", (n,))
        cursor.execute("ANALYZE response")
        cursor.execute("ANALYZE score")
        raw.commit()
    finally:
        raw.close()
    db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database that may be emptied")
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args()

    from formengine import create_app
    from formengine.db import get_db
    from formengine.registry import get_registry
    from formengine.rescore_service import alert_notifier
    from formengine.rescoring import BATCH, Summary, Target, execute_run, start_run
    from formengine.scoring_context import scoring_context

    instance = tempfile.mkdtemp(prefix="formengine-bench-")
    app = create_app({"DATABASE_URL": args.database_url, "INSTANCE_PATH": instance,
                      "SECRET_KEY": "bench", "JOBS_BACKEND": "immediate"})
    who5 = get_registry(app).get("who5")
    t = time.perf_counter()
    build(args.database_url, args.responses, who5)
    print(f"built {args.responses:,} scored WHO-5 responses in {time.perf_counter() - t:.1f} s; "
          f"peak memory {peak_mb():.0f} MB")

    bumped = dataclasses.replace(who5, scoring_version="bench-2")
    targets = {"who5": Target(bumped, scoring_context(app, who5))}
    batch = args.batch or BATCH
    timings = {}
    notifier = alert_notifier(app)
    with app.app_context(), get_db(app).session() as session:
        for label, dry in (("preview", True), ("rescore", False), ("second rescore", False)):
            run = start_run(session, ["who5"], dry_run=dry)
            cpu, wall = time.process_time(), time.perf_counter()
            run = execute_run(session, run.id, targets, batch=batch, on_alerts=notifier)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            timings[label] = wall
            summary = Summary.from_dict(run.summary)
            print(f"{label:15s} {wall:6.1f} s wall, {cpu:6.1f} s CPU in this process, "
                  f"{summary.examined / wall:9,.0f} responses/s; rescored {summary.rescored:,}, "
                  f"unchanged {summary.unchanged:,}; peak memory {peak_mb():.0f} MB")
    rescore = timings["rescore"]
    print(f"rescoring {args.responses:,} responses took {rescore:.1f} s: "
          f"{rescore / TARGET_SECONDS:.2f} x the {TARGET_SECONDS:.0f} s target"
          + (f" (scaled to 1,000,000: {rescore * 1_000_000 / args.responses:.1f} s)"
             if args.responses != 1_000_000 else ""))
    print(f"preview / rescore time: {timings['preview'] / rescore:.2f}; "
          f"second run (nothing to do) / rescore: {timings['second rescore'] / rescore:.2f}")


if __name__ == "__main__":
    main()
