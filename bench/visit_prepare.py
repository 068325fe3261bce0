"""What preparing a home visit costs, and what guessing the PIN of a lost tablet costs.

Run: ``python bench/visit_prepare.py [--rounds 5] [--browser]``. Builds an app on a
fresh SQLite file with the demo data and cases, logs in as ``team-a`` and times:

- *prepare*: ``POST /families/<id>/visit`` for DEMO-A-07 (nine forms due at
  enrolment), the server's whole reply: starting or resuming the drafts, every
  step of every form rendered in every answer language, one PIN verifier;
  the reply's size in bytes (what the tablet encrypts and keeps);
- *one guess*: one PBKDF2-SHA-256 derivation with the iterations the tablet
  uses to wrap its data key (``offline-store.js``), as someone with a copy of
  the tablet's storage would compute it, on one core of this machine (OpenSSL
  through hashlib); and what trying every PIN of 4, 6 and 8 digits would take
  on one such core;
- with ``--browser``: the same derivation in Chromium's WebCrypto (the time the
  team member waits when unlocking without a network), at a tablet viewport.

It prints medians. Timings depend on the machine; a tablet is slower, an
attacker's hardware faster (GPUs compute many guesses at once).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ITERATIONS = 310_000  # as formengine/static/offline-store.js
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _app(folder: str):
    from formengine import create_app
    from formengine.db import Database, get_db
    from formengine.demo import load_demo
    from formengine.registry import get_registry

    database = Database(f"sqlite:///{folder}/bench.db")
    database.upgrade()
    database.engine.dispose()
    app = create_app({"DATABASE_URL": f"sqlite:///{folder}/bench.db", "INSTANCE_PATH": f"{folder}/instance",
                      "SECRET_KEY": "bench", "TESTING": True, "SESSION_COOKIE_SECURE": False})
    with app.app_context(), get_db(app).session() as session:
        load_demo(session, get_registry(app), cases=True)
    return app


def prepare_times(rounds: int) -> tuple[list[float], int, int]:
    from sqlalchemy import select

    from formengine.db import get_db
    from formengine.models import Family

    with tempfile.TemporaryDirectory() as folder:
        app = _app(folder)
        with get_db(app).session() as session:
            family = session.scalar(select(Family.id).where(Family.case_ref == "DEMO-A-07"))
        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        client.post("/login", data={"username": "team-a", "password": "demo", "csrf_token": token})
        times, size, forms = [], 0, 0
        for _ in range(rounds):
            token = CSRF.search(client.get(f"/families/{family}").get_data(as_text=True)).group(1)
            start = time.perf_counter()
            reply = client.post(f"/families/{family}/visit", data={"csrf_token": token, "secret": "1234"})
            times.append(time.perf_counter() - start)
            assert reply.status_code == 200, reply.status_code
            size, forms = len(reply.get_data()), len(reply.get_json()["forms"])
        get_db(app).engine.dispose()
        return times, size, forms


def guess_times(rounds: int) -> list[float]:
    salt = os.urandom(16)
    times = []
    for pin in range(rounds):
        start = time.perf_counter()
        hashlib.pbkdf2_hmac("sha256", f"{pin:04d}".encode(), salt, ITERATIONS)
        times.append(time.perf_counter() - start)
    return times


BROWSER_DERIVE = """async (iterations) => {
  const secret = new TextEncoder().encode('1234');
  const base = await crypto.subtle.importKey('raw', secret, 'PBKDF2', false, ['deriveKey']);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const start = performance.now();
  await crypto.subtle.deriveKey({name: 'PBKDF2', hash: 'SHA-256', salt, iterations}, base,
                                {name: 'AES-GCM', length: 256}, false, ['encrypt', 'decrypt']);
  return performance.now() - start;
}"""


def browser_times(rounds: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, _chromium_path

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 820, "height": 1180})
        # WebCrypto needs a secure context: a page of http://localhost counts as one (no server needed).
        page.route("http://localhost/bench", lambda route: route.fulfill(body="<p>bench</p>",
                                                                         content_type="text/html"))
        page.goto("http://localhost/bench")
        times = [page.evaluate(BROWSER_DERIVE, ITERATIONS) / 1000 for _ in range(rounds)]
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    times, size, forms = prepare_times(args.rounds)
    print(f"prepare a visit ({forms} forms): median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms, reply {size / 1024:.0f} KiB")
    guesses = guess_times(max(args.rounds, 5))
    one = statistics.median(guesses)
    print(f"one PIN guess (PBKDF2-SHA-256, {ITERATIONS:,} iterations, one core): median {one * 1000:.0f} ms")
    for digits in (4, 6, 8):
        total = one * 10 ** digits
        years = total / 86400 / 365
        print(f"  every {digits}-digit PIN on one core: {total / 3600:,.1f} h ({years:,.2f} years)")
    if args.browser:
        derive = browser_times(max(args.rounds, 5))
        print(f"unlock in Chromium (WebCrypto): median {statistics.median(derive) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
