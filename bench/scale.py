"""Scale benchmark on PostgreSQL: 1,000,000 responses, the progression report and the long CSV export.

    python bench/scale.py [--responses 1000000] [--server-url URL] [--keep | --database-url URL]

``--server-url`` defaults to postgresql+psycopg://postgres@127.0.0.1:5432/postgres.

Creates its own throw-away database (``bench_scale_<pid>``) on the server,
fills it with COPY, measures, and drops it (``--keep`` keeps it and prints its
URL; ``--database-url`` reuses a kept one). The data is a programme's: per
family a parent answering WHO-5, PSS and the parent's SDQ about the child,
and the child answering KIDSCREEN-10, at measurements 1-3 (a third of the
families closed, their third measurement a closing), with some attrition —
scored by the bundled plugins (a pool of plausible answer sets per
instrument, scored once). Then:

- the progression report (WHO-5 percent 1 -> 2, PSS total first -> last,
  the parent's SDQ about the child 1 -> 2), each timed twice in this process;
- the long CSV export of every instrument, each in a fresh child process:
  rows per second (wall clock and per CPU second) and peak resident memory.

Figures are printed, never asserted, with the machine's load average (the
machine may be shared): compare them within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_REPORT_SECONDS = 1.0
TARGET_ROWS_PER_SECOND = 50_000
TARGET_PEAK_MB = 200
PARENT_FORMS = ("who5", "pss", "sdq_p4_17")
CHILD_FORMS = ("kidscreen10_child",)
REPORTS = (("who5", "percent", "1", "2"), ("pss", "total", "first", "last"),
           ("sdq_p4_17", "total_difficulties", "1", "2"))


def _app(url: str):
    from formengine import create_app

    return create_app({"DATABASE_URL": url, "INSTANCE_PATH": tempfile.mkdtemp(prefix="fe-bench-"),
                       "SECRET_KEY": "bench"})


def _pool(registry, instrument_id: str, rng: random.Random, size: int = 400
          ) -> list[tuple[str, str, str, bool]]:
    """Plausible answer sets with their scores, as JSON text: (answers, scores, bands, valid)."""
    from formengine.demo import plausible_answers

    instrument = registry.get(instrument_id)
    out = []
    for i in range(size):
        answers = plausible_answers(instrument.definition, rng, progress=i % 3)
        result = instrument.score_guarded(answers, None)
        out.append((json.dumps(answers), json.dumps(result.scores), json.dumps(result.bands), result.valid))
    return out


def build_data(url: str, responses: int) -> dict[str, int]:
    """Fill an empty, migrated database with COPY; return the responses per instrument."""
    import psycopg
    from sqlalchemy.engine import make_url

    app = _app(url)
    from formengine.registry import get_registry

    registry = get_registry(app)
    rng = random.Random(20261201)
    pools = {i: _pool(registry, i, rng) for i in PARENT_FORMS + CHILD_FORMS}
    versions = {i: (registry.get(i).version, registry.get(i).scoring_version) for i in pools}
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    counts = dict.fromkeys(pools, 0)
    with psycopg.connect(plain) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO municipality (id, name, settings, cpr_enabled, pseudonym_key, created_at) "
                    "VALUES (1, 'Bench Kommune 1', '{}', false, %s, %s), (2, 'Bench Kommune 2', '{}', false, "
                    "%s, %s)", (os.urandom(32).hex(), now, os.urandom(32).hex(), now))
        families, persons, waves = [], [], []
        rows_r, rows_s = [], []
        response_id = 0
        family = 0
        while response_id < responses:
            family += 1
            m = 1 + family % 2
            enrolled = date(2022, 1, 1) + timedelta(days=family % 900)
            closed = family % 3 == 0
            families.append((family, m, f"B-{family}", enrolled, "closed" if closed else "open", now))
            parent, child = 2 * family - 1, 2 * family
            persons.append((parent, family, m, "parent", f"mor{family}", date(1980 + family % 15, 5, 1),
                            "female", "open", now))
            persons.append((child, family, m, "child", f"barn{family}", date(2010 + family % 8, 3, 1),
                            ("female", "male")[family % 2], "open", now))
            last = 3 if rng.random() < 0.85 else 2 if rng.random() < 0.7 else 1
            for number in range(1, 4):
                kind = "baseline" if number == 1 else "closing" if closed and number == 3 else "progress"
                wave_id = 3 * family - 3 + number
                due = enrolled + timedelta(days=182 * (number - 1))
                waves.append((wave_id, m, family, kind, number, due, now))
                if number > last:
                    continue
                for who, forms, about in ((parent, PARENT_FORMS, child), (child, CHILD_FORMS, child)):
                    for instrument_id in forms:
                        if response_id >= responses:
                            break
                        response_id += 1
                        counts[instrument_id] += 1
                        answers, scores, bands, valid = rng.choice(pools[instrument_id])
                        when = datetime.combine(due, datetime.min.time(), UTC) + timedelta(
                            days=rng.randint(0, 20), seconds=response_id % 36000)
                        iv, sv = versions[instrument_id]
                        rows_r.append((response_id, f"00000000-0000-4000-8000-{response_id:012d}", m, who,
                                       about if instrument_id == "sdq_p4_17" else who, wave_id,
                                       instrument_id, iv, "submitted", answers, "[]", "paper", "da",
                                       '{"kind": "project_labels"}', when, when, when, 1))
                        rows_s.append((response_id, response_id, iv, sv, valid, scores, bands, "[]", when,
                                       "{}"))
        _copy(cur, "municipality", None, [])
        _copy(cur, "family", "id, municipality_id, case_ref, enrolled_on, status, created_at", families)
        _copy(cur, "person", "id, family_id, municipality_id, role, name, birth_date, sex, status, "
              "created_at", persons)
        _copy(cur, "wave", "id, municipality_id, family_id, kind, number, due_on, created_at", waves)
        _copy(cur, "response", "id, uuid, municipality_id, person_id, about_person_id, wave_id, "
              "instrument_id, instrument_version, status, answers, declined, mode, language, wording, "
              "created_at, updated_at, submitted_at, version", rows_r)
        _copy(cur, "score", "id, response_id, instrument_version, scoring_version, valid, scores, bands, "
              "flags, computed_at, options", rows_s)
        for table in ("family", "person", "wave", "response", "score"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")  # planner statistics, as autovacuum would have them after a bulk load
    from formengine.db import get_db

    get_db(app).engine.dispose()
    return counts


def _copy(cur, table: str, columns: str | None, rows: list) -> None:
    if columns is None or not rows:
        return
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def measure_reports(url: str) -> list[dict]:
    from formengine.db import get_db
    from formengine.registry import get_registry
    from formengine.reports import progression_report

    app = _app(url)
    registry = get_registry(app)
    out = []
    for instrument_id, score, start, end in REPORTS:
        timings = []
        for _ in range(2):
            with get_db(app).session() as session:
                began = time.perf_counter()
                report = progression_report(session, registry.get(instrument_id), score, start, end)
                summary = report.summary()
                timings.append(time.perf_counter() - began)
        out.append({"report": f"{instrument_id} {score} {start}->{end}", "n_paired": summary["n_paired"],
                    "n_first_only": summary["n_first_only"], "seconds": timings})
    return out


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_export(url: str, instrument_id: str) -> dict:
    """One long CSV export to a throw-away sink in this process."""
    from formengine.db import get_db
    from formengine.exports.dataset import ExportRequest
    from formengine.exports.service import build_export
    from formengine.registry import get_registry

    app = _app(url)
    registry = get_registry(app)
    before = _peak_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    lines = 0
    with get_db(app).session() as session:
        export = build_export(session, registry, ExportRequest(instrument_ids=(instrument_id,)),
                              layout="long", fmt="csv")
        for chunk in export.chunks:
            lines += chunk.count("\r\n") if isinstance(chunk, str) else 0
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rows = lines - 1
    return {"instrument": instrument_id, "rows": rows, "seconds": seconds, "cpu_seconds": cpu,
            "rows_per_second": rows / seconds, "rows_per_cpu_second": rows / cpu,
            "peak_rss_mb": _peak_mb(), "rss_before_mb": before}


def _admin(server_url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(plain, autocommit=True)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--server-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-url", default=None, help="reuse a database kept by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument("--build-only", action="store_true", help="fill the database, measure nothing")
    parser.add_argument("--skip-reports", action="store_true", help="measure the exports only")
    parser.add_argument("--measure-export", nargs=2, metavar=("URL", "INSTRUMENT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_export:
        print(json.dumps(measure_export(*args.measure_export)))
        return
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from formengine.db import Database

    created = None
    url = args.database_url
    if url is None:
        created = f"bench_scale_{os.getpid()}"
        with _admin(args.server_url) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(created)))
        url = make_url(args.server_url).set(database=created).render_as_string(hide_password=False)
    try:
        if created:
            db = Database(url)
            db.upgrade()
            db.engine.dispose()
            print(_load())
            began = time.perf_counter()
            counts = build_data(url, args.responses)
            mix = ", ".join(f"{k} {v:,}" for k, v in counts.items())
            print(f"data: {sum(counts.values()):,} responses ({mix}) written with COPY in "
                  f"{time.perf_counter() - began:.1f} s")
        if args.build_only:
            return
        print(_load())
        for result in [] if args.skip_reports else measure_reports(url):
            first, second = result["seconds"]
            print(f"report {result['report']}: n_paired {result['n_paired']:,}, "
                  f"first only {result['n_first_only']:,}: {first:.2f} s, again {second:.2f} s "
                  f"(target < {TARGET_REPORT_SECONDS:.0f} s)")
        print(_load())
        total_rows = total_seconds = total_cpu = 0.0
        peak = 0.0
        for instrument_id in PARENT_FORMS + CHILD_FORMS:
            out = subprocess.run([sys.executable, __file__, "--measure-export", url, instrument_id],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            total_rows += r["rows"]
            total_seconds += r["seconds"]
            total_cpu += r["cpu_seconds"]
            peak = max(peak, r["peak_rss_mb"])
            print(f"long CSV {instrument_id}: {r['rows']:,} rows in {r['seconds']:.1f} s: "
                  f"{r['rows_per_second']:,.0f} rows/s wall, {r['rows_per_cpu_second']:,.0f} rows per CPU s; "
                  f"peak {r['peak_rss_mb']:.0f} MB (before the export {r['rss_before_mb']:.0f} MB)")
        print(f"long CSV, all {total_rows:,.0f} rows: {total_rows / total_seconds:,.0f} rows/s wall, "
              f"{total_rows / total_cpu:,.0f} rows per CPU s, peak {peak:.0f} MB "
              f"(targets {TARGET_ROWS_PER_SECOND:,} rows/s, {TARGET_PEAK_MB} MB)")
        print(_load())
    finally:
        if created and not args.keep:
            with _admin(args.server_url) as conn:
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                conn.execute(drop.format(sql.Identifier(created)))
        elif created:
            print(f"kept: {url}")


if __name__ == "__main__":
    main()
