"""Export benchmark: rows per second and peak memory for streaming exports of 100,000 responses.

    python bench/export.py [--responses 100000] [--database-url URL]

Without ``--database-url`` a fresh SQLite file in a temporary folder is used.
The data (WHO-5 responses with scores, in families with waves) is written
first; each export is then measured in a fresh child process so that the
peak memory reported is the export's own (the process's ``VmHWM``; Linux
keeps ``ru_maxrss`` across exec, so a child would report the peak of the
parent that built the data) and not that of building the data. Figures are printed, never
asserted: timings depend on the machine. Besides wall-clock rows per second
it prints rows per CPU second of the exporting process, which is what the
export itself costs when other work shares the machine.
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

TARGET_ROWS_PER_SECOND = 20_000
TARGET_PEAK_MB = 200


def build_data(url: str, responses: int) -> None:
    """Municipalities, families (3 persons each), waves and scored WHO-5 responses, in bulk."""
    from sqlalchemy import insert, text

    from formengine.db import Database
    from formengine.models import Family, Municipality, Person, Response, Score, Wave

    db = Database(url)
    db.upgrade()
    rng = random.Random(1)
    per_family = 3 * 3  # three persons, three waves
    families = responses // per_family + 1
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with db.engine.begin() as conn:
        conn.execute(insert(Municipality), [
            {"id": i, "name": f"Bench Kommune {i}", "pseudonym_key": os.urandom(32).hex(), "settings": {},
             "cpr_enabled": False, "created_at": now} for i in (1, 2, 3)])
        response_id = 0
        batch_r: list[dict] = []
        batch_s: list[dict] = []
        for f in range(1, families + 1):
            m = 1 + f % 3
            conn.execute(insert(Family), [{"id": f, "municipality_id": m, "case_ref": f"B-{f}",
                                           "enrolled_on": date(2023, 1, 1), "status": "open",
                                           "created_at": now}])
            conn.execute(insert(Person), [
                {"id": f * 3 + k, "family_id": f, "municipality_id": m, "role": "parent", "name": f"p{k}",
                 "birth_date": date(1980 + k, 1, 1), "sex": "female", "status": "open", "created_at": now}
                for k in range(3)])
            conn.execute(insert(Wave), [
                {"id": f * 3 + w, "municipality_id": m, "family_id": f, "number": w + 1,
                 "kind": ("baseline", "progress", "closing")[w], "due_on": date(2023, 1, 1),
                 "created_at": now}
                for w in range(3)])
            for k in range(3):
                for w in range(3):
                    if response_id >= responses:
                        break
                    response_id += 1
                    answers = {f"who5_{i}": rng.randint(0, 5) for i in range(1, 6)}
                    raw = sum(answers.values())
                    when = now + timedelta(days=180 * w, seconds=response_id)
                    batch_r.append({
                        "id": response_id, "uuid": f"00000000-0000-4000-8000-{response_id:012d}",
                        "municipality_id": m, "person_id": f * 3 + k, "about_person_id": None,
                        "wave_id": f * 3 + w, "instrument_id": "who5", "instrument_version": "1.0.0",
                        "status": "submitted", "answers": answers, "declined": [], "mode": "paper",
                        "language": "da", "wording": {"kind": "project_labels"}, "entered_by": None,
                        "created_at": when, "updated_at": when, "submitted_at": when, "version": 1})
                    percent = raw * 4
                    band = ("likely_depression" if percent <= 28 else
                            "poor_wellbeing" if percent <= 50 else "good_wellbeing")
                    batch_s.append({
                        "response_id": response_id, "instrument_version": "1.0.0", "scoring_version": "1",
                        "valid": True, "scores": {"raw": raw, "percent": percent}, "bands": {"percent": band},
                        "flags": [], "computed_at": when})
            if len(batch_r) >= 5000 or response_id >= responses:
                conn.execute(insert(Response), batch_r)
                conn.execute(insert(Score), batch_s)
                batch_r, batch_s = [], []
            if response_id >= responses:
                break
    with db.engine.begin() as conn:
        # planner statistics, as autovacuum (PostgreSQL) would have them after a bulk load
        conn.execute(text("ANALYZE"))
    db.engine.dispose()


def _peak_kb() -> int:
    """This process's peak resident memory in kB: VmHWM, which (unlike ru_maxrss on Linux) a child
    does not inherit from the parent that built the data."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(url: str, layout: str, fmt: str) -> dict:
    """Run one export to a throw-away sink in this process; return rows, seconds and peak memory."""
    from formengine import create_app
    from formengine.db import get_db
    from formengine.exports.dataset import ExportRequest, scored_instrument_ids
    from formengine.exports.service import build_export
    from formengine.registry import get_registry

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": tempfile.mkdtemp(prefix="fe-bench-"),
                      "SECRET_KEY": "bench"})
    registry = get_registry(app)
    ids = ("who5",) if layout == "long" else scored_instrument_ids(registry)
    before = _peak_kb()
    start = time.perf_counter()
    cpu_start = time.process_time()
    size = 0
    lines = 0
    with get_db(app).session() as session:
        export = build_export(session, registry, ExportRequest(instrument_ids=ids), layout=layout, fmt=fmt)
        for chunk in export.chunks:
            size += len(chunk)
            lines += chunk.count("\n") if isinstance(chunk, str) else 0
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    peak_kb = _peak_kb()
    rows = lines - 1 if fmt == "csv" else lines
    return {"layout": layout, "format": fmt, "rows": rows, "seconds": seconds, "bytes": size,
            "rows_per_second": rows / seconds if seconds else None, "cpu_seconds": cpu_seconds,
            "rows_per_cpu_second": rows / cpu_seconds if cpu_seconds else None,
            "peak_rss_mb": peak_kb / 1024, "rss_before_mb": before / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--measure", nargs=3, metavar=("URL", "LAYOUT", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    workdir = tempfile.mkdtemp(prefix="fe-bench-")
    url = args.database_url or f"sqlite:///{workdir}/bench.db"
    started = time.perf_counter()
    build_data(url, args.responses)
    print(f"data: {args.responses} WHO-5 responses written in {time.perf_counter() - started:.1f} s")
    results = []
    for layout, fmt in (("long", "csv"), ("wide", "csv"), ("long", "fhir")):
        child = subprocess.run([sys.executable, __file__, "--measure", url, layout, fmt],
                               capture_output=True, text=True, check=True)
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    print(f"machine load average while measuring: {load:.1f} on {os.cpu_count()} CPU(s)")
    print(f"{'export':<12}{'rows':>9}{'seconds':>9}{'rows/s':>10}{'CPU s':>8}{'rows/CPU s':>12}"
          f"{'peak MB':>9}{'file MB':>9}")
    for r in results:
        print(f"{r['layout'] + ' ' + r['format']:<12}{r['rows']:>9}{r['seconds']:>9.2f}"
              f"{r['rows_per_second']:>10.0f}{r['cpu_seconds']:>8.2f}{r['rows_per_cpu_second']:>12.0f}"
              f"{r['peak_rss_mb']:>9.1f}{r['bytes'] / 1e6:>9.1f}")
    csv_long = results[0]
    speed = csv_long["rows_per_second"]
    cpu_speed = csv_long["rows_per_cpu_second"]
    print(f"long CSV: {speed:.0f} rows/s wall clock ({speed / TARGET_ROWS_PER_SECOND:.2f} x the "
          f"{TARGET_ROWS_PER_SECOND} target), {cpu_speed:.0f} rows per CPU second "
          f"({cpu_speed / TARGET_ROWS_PER_SECOND:.2f} x); "
          f"peak memory {csv_long['peak_rss_mb']:.0f} MB "
          f"({csv_long['peak_rss_mb'] / TARGET_PEAK_MB:.2f} x the {TARGET_PEAK_MB} MB limit)")


if __name__ == "__main__":
    main()
