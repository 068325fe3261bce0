"""What auditing every draft save costs on the save path, measured in one run.

Run: ``python bench/audit_cost.py [--n 400] [--database-url URL]``. Builds an app
on a fresh SQLite file (or the given database, which is emptied first), loads
the demo data, logs in as ``team-a`` and starts a WHO-5 draft. It then times
stepper saves (htmx, stays on the step) alternating between two variants in
the same process, so machine load hits both alike:

- every save: each save appends one chained audit event;
- bursts: as shipped, the first save in a session and then one per
  ``audit.BURST_SECONDS`` (``audit.record_burst``);
- unaudited: the same save with the draft-save audit call switched off.

It prints the median and 95th percentile of each and their ratio.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from formengine import audit, create_app, drafts  # noqa: E402
from formengine.db import Database, get_db  # noqa: E402
from formengine.demo import load_demo  # noqa: E402
from formengine.registry import get_registry  # noqa: E402
from formengine.testing import reset_database  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION = re.compile(r'id="fill-version" value="(\d+)"')


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


class Switchable:
    """Stands in for the audit module inside drafts.py: every save, in bursts, or not at all."""

    mode = "bursts"

    def record_burst(self, *args, **kwargs):
        if self.mode == "every save":
            audit.record(*args, **kwargs)
        elif self.mode == "bursts":
            audit.record_burst(*args, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="timed saves per variant (default 400)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        database = Database(url)
        database.upgrade()
        reset_database(database.engine)
        database.engine.dispose()
        app = create_app({"INSTANCE_PATH": str(Path(tmp) / "instance"), "DATABASE_URL": url,
                          "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING", "SESSION_COOKIE_SECURE": False})
        with get_db(app).session() as session:
            load_demo(session, get_registry(app))
        switch = Switchable()
        drafts.audit = switch
        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"username": "team-a", "password": "demo",
                                           "csrf_token": token}).status_code == 302
        token = CSRF.search(client.get("/instruments").get_data(as_text=True)).group(1)
        started = client.post("/fill/start/who5", data={"csrf_token": token})
        uuid = started.headers["Location"].rsplit("/", 1)[-1]
        state = {"version": 1, "code": 0}
        modes = ("every save", "bursts", "unaudited")
        samples: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_ in range(3 * args.n + 60):
            switch.mode = modes[round_ % 3]
            state["code"] = (state["code"] + 1) % 6
            start = time.perf_counter()
            response = client.post(f"/fill/{uuid}/save", headers={"HX-Request": "true"}, data={
                "csrf_token": token, "version": str(state["version"]), "page": "who5_1",
                "who5_1": str(state["code"]), "go": "stay"})
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.status_code
            state["version"] = int(VERSION.search(response.get_data(as_text=True)).group(1))
            if round_ >= 60:
                samples[switch.mode].append(elapsed)
        get_db(app).engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"audit_cost benchmark: {args.n} saves per variant, interleaved, {backend}, in-process WSGI")
    base_median, base_p95 = statistics.median(samples["unaudited"]), percentile(samples["unaudited"], 0.95)
    for mode, values in samples.items():
        median, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"  {mode:<10} median {median:7.2f} ms   p95 {p95:7.2f} ms   "
              f"ratio to unaudited: median {median / base_median:.2f}x, p95 {p95 / base_p95:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
