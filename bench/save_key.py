"""What the answer queue's idempotency key costs on the save path, measured in one run.

Run: ``python bench/save_key.py [--n 400] [--database-url URL]``. Builds an app on
a fresh SQLite file (or the given database, which is emptied first), loads the
demo data, logs in as ``team-a`` and starts a WHO-5 draft. It then times
stepper saves (htmx, stays on the step), interleaving three variants in the
same process so machine load hits them alike:

- unkeyed: a save as a plain form post or an old page sends it;
- keyed: the same save with a fresh ``Idempotency-Key`` (as the tablet's queue
  sends every save; the key is written in the same UPDATE as the answers);
- resent: the last keyed save sent again (its reply was lost), acknowledged
  without a write.

It prints the median and 95th percentile of each and their ratio to unkeyed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid as uuids
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_cost import CSRF, percentile  # noqa: E402
from formengine import create_app  # noqa: E402
from formengine.db import Database, get_db  # noqa: E402
from formengine.demo import load_demo  # noqa: E402
from formengine.registry import get_registry  # noqa: E402
from formengine.testing import reset_database  # noqa: E402


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
        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"username": "team-a", "password": "demo",
                                           "csrf_token": token}).status_code == 302
        token = CSRF.search(client.get("/instruments").get_data(as_text=True)).group(1)
        started = client.post("/fill/start/who5", data={"csrf_token": token})
        uuid = started.headers["Location"].rsplit("/", 1)[-1]
        version, code, last = 1, 0, None
        modes = ("unkeyed", "keyed", "resent")
        samples: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_ in range(3 * args.n + 60):
            mode = modes[round_ % 3]
            headers = {"HX-Request": "true"}
            if mode == "resent":
                headers["Idempotency-Key"] = last["key"]
                form = last["form"]
            else:
                code = (code + 1) % 6
                form = {"csrf_token": token, "version": str(version), "page": "who5_1",
                        "who5_1": str(code), "go": "stay"}
                if mode == "keyed":
                    headers["Idempotency-Key"] = str(uuids.uuid4())
                    last = {"key": headers["Idempotency-Key"], "form": form}
            start = time.perf_counter()
            response = client.post(f"/fill/{uuid}/save", headers=headers, data=form)
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.status_code
            version = int(response.headers["X-Draft-Version"])
            if round_ >= 60:
                samples[mode].append(elapsed)
        get_db(app).engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"save_key benchmark: {args.n} saves per variant, interleaved, {backend}, in-process WSGI")
    base_median, base_p95 = statistics.median(samples["unkeyed"]), percentile(samples["unkeyed"], 0.95)
    for mode, values in samples.items():
        median, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"  {mode:<8} median {median:7.2f} ms   p95 {p95:7.2f} ms   "
              f"ratio to unkeyed: median {median / base_median:.2f}x, p95 {p95 / base_p95:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
