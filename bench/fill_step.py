"""How long the server takes for one stepper save and one step render, next to a bare Flask route.

Run: ``python bench/fill_step.py [--n 500] [--database-url URL]``. Builds an app on
a fresh SQLite file (or the given database, which is emptied first), loads the
demo data, logs in as ``team-a`` and starts a WHO-5 draft. It then times, in
one run and in-process (WSGI test client, no network):

- save: saving one answer as the tablet does (htmx POST, stays on the step);
- render: rendering a step page (GET of the next question);
- in-app: a constant route inside the application (its hooks, no fill work);
- bare: a route on a plain Flask app that returns a constant.

It prints the median and 95th percentile of each, and the ratios to the bare
route. Target on a 2-core machine with SQLite: p95 save <= 15 ms and <= 5x bare.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from formengine import create_app  # noqa: E402
from formengine.db import Database, get_db  # noqa: E402
from formengine.demo import load_demo  # noqa: E402
from formengine.registry import get_registry  # noqa: E402
from formengine.testing import reset_database  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION = re.compile(r'id="fill-version" value="(\d+)"')
HX = {"HX-Request": "true"}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def timed(call, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="timed requests per kind (default 500)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        database = Database(url)
        database.upgrade()
        reset_database(database.engine)
        database.engine.dispose()
        app = create_app({"INSTANCE_PATH": str(Path(tmp) / "instance"), "DATABASE_URL": url,
                          "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING",
                          "SESSION_COOKIE_SECURE": False})
        # The same constant route inside the application: its hooks (session, security
        # headers, hand-over guard) without any fill work, to show where the time goes.
        app.add_url_rule("/_bench/constant", "bench_constant", lambda: "ok")
        with get_db(app).session() as session:
            load_demo(session, get_registry(app))

        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"username": "team-a", "password": "demo",
                                           "csrf_token": token}).status_code == 302
        token = CSRF.search(client.get("/").get_data(as_text=True)).group(1)
        started = client.post("/fill/start/who5", data={"csrf_token": token})
        uuid = started.headers["Location"].rsplit("/", 1)[-1]
        step_url = f"/fill/{uuid}?page=who5_2"
        state = {"version": 1, "code": 0}

        def save() -> None:
            state["code"] = (state["code"] + 1) % 6
            response = client.post(f"/fill/{uuid}/save", headers=HX, data={
                "csrf_token": token, "version": str(state["version"]), "page": "who5_1",
                "who5_1": str(state["code"]), "go": "stay"})
            assert response.status_code == 200, response.status_code
            state["version"] = int(VERSION.search(response.get_data(as_text=True)).group(1))

        def render() -> None:
            response = client.get(step_url, headers=HX)
            assert response.status_code == 200, response.status_code
            response.get_data()

        bare_app = Flask("bare")
        bare_app.add_url_rule("/", "bare", lambda: "ok")
        bare_client = bare_app.test_client()

        def bare() -> None:
            response = bare_client.get("/")
            assert response.status_code == 200
            response.get_data()

        def app_constant() -> None:
            response = client.get("/_bench/constant")
            assert response.status_code == 200
            response.get_data()

        results = {
            "save": timed(save, args.n, args.warmup),
            "render": timed(render, args.n, args.warmup),
            "in-app": timed(app_constant, args.n, args.warmup),
            "bare": timed(bare, args.n, args.warmup),
        }
        get_db(app).engine.dispose()

    backend = url.split(":", 1)[0]
    print(f"fill_step benchmark: {args.n} timed requests each, {backend}, in-process WSGI")
    bare_median, bare_p95 = statistics.median(results["bare"]), percentile(results["bare"], 0.95)
    for name, samples in results.items():
        median, p95 = statistics.median(samples), percentile(samples, 0.95)
        ratio = ""
        if name not in ("bare", "in-app"):
            ratio = f"  ratio to bare: median {median / bare_median:.1f}x, p95 {p95 / bare_p95:.1f}x"
        print(f"  {name:<7} median {median:7.2f} ms   p95 {p95:7.2f} ms{ratio}")
    save_p95 = percentile(results["save"], 0.95)
    print(f"target p95 save <= 15 ms: {'met' if save_p95 <= 15 else 'NOT met'} ({save_p95:.2f} ms)")
    ratio = save_p95 / bare_p95
    print(f"target p95 save <= 5x bare route: {'met' if ratio <= 5 else 'NOT met'} ({ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
