"""Does a wrong password take as long for an unknown username as for a known one?

Run: ``python bench/login_timing.py [--n 60]``. Builds an app on a fresh SQLite
file with the demo logins, then times, alternating and in-process (WSGI test
client), failed logins for an existing username (``team-a``), an unknown one,
and a deactivated one, with throttling switched off for the run. Prints the
median of each and the ratio to the existing user's median; equal time means
ratios near 1.0 (within the run's noise, shown as the spread of the existing
user's own timings).
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

from sqlalchemy import select  # noqa: E402

from formengine import create_app  # noqa: E402
from formengine.db import Database, get_db  # noqa: E402
from formengine.demo import load_demo  # noqa: E402
from formengine.models import User  # noqa: E402
from formengine.registry import get_registry  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="timed logins per kind (default 60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        Database(url).upgrade()
        app = create_app({"INSTANCE_PATH": str(Path(tmp) / "instance"), "DATABASE_URL": url,
                          "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING", "SESSION_COOKIE_SECURE": False,
                          "LOGIN_MAX_FAILURES": 10**9, "LOGIN_MAX_FAILURES_PER_USER": 10**9,
                          "LOGIN_MAX_FAILURES_PER_IP": 10**9})
        with get_db(app).session() as session:
            load_demo(session, get_registry(app))
            session.scalars(select(User).where(User.username == "team-b")).one().active = False
        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        kinds = {"existing": "team-a", "unknown": "nobody-by-this-name", "deactivated": "team-b"}
        samples: dict[str, list[float]] = {kind: [] for kind in kinds}
        for round_ in range(args.n + 5):
            for kind, username in kinds.items():
                start = time.perf_counter()
                response = client.post("/login", data={"username": username, "password": "wrong",
                                                       "csrf_token": token})
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 401, response.status_code
                if round_ >= 5:  # warm-up rounds are not counted
                    samples[kind].append(elapsed)
        get_db(app).engine.dispose()
    base = statistics.median(samples["existing"])
    q1, _q2, q3 = statistics.quantiles(samples["existing"], n=4)
    print(f"login_timing benchmark: {args.n} failed logins each, sqlite, in-process WSGI")
    for kind, values in samples.items():
        median = statistics.median(values)
        print(f"  {kind:<11} median {median:7.2f} ms   ratio to existing {median / base:.2f}")
    print(f"  spread of the existing user's timings (interquartile): {q1:.2f}-{q3:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
