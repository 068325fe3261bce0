"""Answer saves under load: tablets against gunicorn + PostgreSQL, beside a bare Flask app, in one run.

Run: ``python bench/load.py [--tablets 200] [--quick] [--security-cost]``
(needs the ``bench`` and ``postgres`` extras: ``pip install -e '.[bench,postgres]'``).

It creates a throwaway PostgreSQL database (``bench_load_<pid>`` on
``--server``, default the local server as user postgres), migrates it, loads
the demo municipalities and adds one team member per tablet, each with a
family, a consenting parent and an open WHO-5 draft about that parent. Then
it serves, each by gunicorn with 4 workers on a free port of 127.0.0.1:

- app: ``formengine:create_app()`` on that database;
- bare: a plain Flask app whose one route parses the same form post (and
  the cookies) and answers with a short fragment, no database;
- with ``--security-cost`` also "app, unchecked": the same app with the
  session checks (session version, idle and absolute limits) and the audit
  events of draft saves and views switched off, to show what they cost;
- with ``--baseline DIR`` also "baseline": the application from another
  checkout of the project (say ``git archive`` of an earlier commit), to
  compare before and after in one run.

Every tablet logs in with its own session (login form, CSRF token), opens
its draft and saves answers the way the stepper does: one tap on an answer
posts the step (``go=next``, htmx) with the CSRF token, the draft's version
and a key of its own (``Idempotency-Key``, as the tablet's answer queue sends
it) and receives the next question (after the last one the review
redirect; then it starts again at the first question with other answers).
An async load generator (aiohttp) on the same machine runs, for each server:

1. saturation: every tablet saves again as soon as the reply is in; the
   figure is saves per second over the measuring window, with the CPU time
   per save of the server, the load generator and PostgreSQL;
2. think time: every tablet waits 1-3 s (2 s on average) between saves, as
   a person does; the figures are the 50th/95th/99th percentile latency.

It prints each figure, its ratio to the bare app and the targets, then
checks in the database that every acknowledged answer is stored (for each
item the last acknowledged value; each draft's version equal to one plus
its acknowledged saves) and prints the number of lost answers. The database
is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION = re.compile(r'id="fill-version" value="(\d+)"')
INSTRUMENT = "who5"
PASSWORD = "bench-load-password"


# -- the servers' applications (gunicorn imports this module as "load") -------------------------

def bare_app():
    """A plain Flask app: parses the save post like the stepper's route would, no database, no session."""
    from flask import Flask, request

    app = Flask("bare")

    @app.post("/fill/<response_uuid>/save")
    def save(response_uuid: str):
        form = request.form
        cookies = request.cookies
        try:
            version = int(form.get("version", "")) + 1
        except ValueError:
            return "missing version", 400
        page = form.get("page", "")
        answer = form.get(page, "")
        key = request.headers.get("Idempotency-Key", "")
        if not form.get("csrf_token") or "session" not in cookies or not answer or not key:
            return "incomplete", 400
        html = (f'<input type="hidden" name="version" id="fill-version" value="{version}">'
                f'<div id="save-status">Saved {response_uuid[:8]} {page}.</div>')
        return html, 200, {"X-Draft-Version": str(version)}

    @app.get("/ready")
    def ready():
        return "ok"

    return app


def unchecked_app():
    """The application with the session checks and the audit events of draft saves and views switched off."""
    from formengine import audit, create_app
    from formengine.web import sessions

    audit.record_burst = lambda *args, **kwargs: False
    sessions.is_valid = lambda user: True
    return create_app()


def profiled_app():
    """The application, each worker profiling its requests (cProfile) into LOAD_BENCH_PROFILE_DIR."""
    import atexit
    import cProfile

    from formengine import create_app

    app = create_app()
    profile = cProfile.Profile(time.process_time)  # CPU time: the machine may be busy with other work
    path = Path(os.environ["LOAD_BENCH_PROFILE_DIR"]) / f"worker-{os.getpid()}.prof"
    inner = app.wsgi_app

    def wsgi_app(environ, start_response):
        profile.enable()
        try:
            return inner(environ, start_response)
        finally:
            profile.disable()

    app.wsgi_app = wsgi_app
    atexit.register(lambda: profile.dump_stats(str(path)))
    return app


# -- set-up ----------------------------------------------------------------------------------------

@dataclass
class Tablet:
    number: int
    username: str
    uuid: str
    cookies: dict[str, str] = field(default_factory=dict)
    token: str = ""
    version: int = 1
    page: int = 0
    cycle: int = 0
    acked: dict[str, int] = field(default_factory=dict)  # item -> last acknowledged value
    acked_saves: int = 0
    unacked: int = 0  # sends whose outcome is unknown (error, timeout)

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def take_cookies(self, reply: Any) -> None:
        for name, morsel in reply.cookies.items():
            self.cookies[name] = morsel.value


@dataclass
class BareTablet:
    """A tablet's state against the bare app (which stores nothing)."""

    number: int
    uuid: str
    cookies: dict[str, str]
    token: str
    version: int = 1
    page: int = 0
    cycle: int = 0
    acked: dict[str, int] = field(default_factory=dict)
    acked_saves: int = 0
    unacked: int = 0

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def take_cookies(self, reply: Any) -> None:
        pass


def admin_url(server: str) -> str:
    return server.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(server: str, name: str) -> str:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    with psycopg.connect(admin_url(server), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server).set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False)


def drop_database(server: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(server), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def populate(url: str, instance: Path, tablets: int) -> tuple[list[Tablet], list[str], str]:
    """Schema, demo municipalities, and per tablet a team member, a family, a parent and a WHO-5 draft."""
    from formengine import create_app
    from formengine.db import Database, get_db
    from formengine.demo import load_demo
    from formengine.models import ROLE_TEAM_MEMBER, Consent, Family, Municipality, Person, User
    from formengine.registry import get_registry
    from formengine.responses import start_draft
    from formengine.security import hash_secret
    from formengine.texts import ProjectLabels

    database = Database(url)
    database.upgrade()
    database.engine.dispose()
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": url, "SECRET_KEY": "setup",
                      "LOG_LEVEL": "WARNING"})
    registry = get_registry(app)
    instrument = registry.get(INSTRUMENT)
    pages = [page["id"] for page in instrument.definition.pages]
    password_hash = hash_secret(PASSWORD)  # one strong hash for all: each login still verifies it
    made = []
    from sqlalchemy import select

    with get_db(app).session() as session:
        load_demo(session, registry)
        municipality = session.scalar(select(Municipality).where(Municipality.name == "Demo Kommune A"))
        for number in range(tablets):
            username = f"bench-tablet-{number:04d}"
            user = User(username=username, display_name=f"Tablet {number}", password_hash=password_hash,
                        role=ROLE_TEAM_MEMBER, municipality_id=municipality.id)
            family = Family(municipality_id=municipality.id, case_ref=f"BENCH-{number:04d}",
                            enrolled_on=date.today())
            session.add_all([user, family])
            session.flush()
            person = Person(family_id=family.id, municipality_id=municipality.id, role="parent",
                            name=f"Parent {number}", birth_date=date(1985, 1, 1), sex="not_stated")
            session.add(person)
            session.flush()
            session.add(Consent(person_id=person.id, municipality_id=municipality.id, given_by="Parent",
                                given_on=date.today(), scope="Benchmark", recorded_by=user.id))
            draft = start_draft(session, instrument, municipality_id=municipality.id, entered_by=user.id,
                                wording=ProjectLabels(instrument.definition).record(),
                                person_id=person.id)
            made.append(Tablet(number, username, draft.uuid))
    get_db(app).engine.dispose()
    return made, pages, password_hash


# -- gunicorn ------------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen

    def cpu_seconds(self) -> float:
        """User + system CPU time of the master and its workers so far."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def start_server(name: str, target: str, env: dict[str, str], workers: int, worker_class: str,
                 log: Path) -> Server:
    """gunicorn on a socket bound here to a free port of 127.0.0.1 and handed over as a file descriptor."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    fd = listener.fileno()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"fd://{fd}", "--workers", str(workers),
               "--worker-class", worker_class, "--backlog", "2048", "--log-level", "warning",
               "--pythonpath", str(Path(__file__).resolve().parent), target]
    process = subprocess.Popen(command, env=env, pass_fds=(fd,), stdout=log.open("w"),
                               stderr=subprocess.STDOUT, cwd=str(log.parent))
    listener.close()
    return Server(name, f"http://127.0.0.1:{port}", process)


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# -- the load generator -------------------------------------------------------------------------

@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # ms, saves started in the window
    done_in_window: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    conflicts: int = 0
    errors: int = 0

    def add(self, other: Tally) -> None:
        self.latencies += other.latencies
        self.done_in_window += other.done_in_window
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.conflicts += other.conflicts
        self.errors += other.errors


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


async def wait_ready(http: Any, url: str, server: Server, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name}: gunicorn exited (see its log)")
        try:
            async with http.get(url) as reply:
                await reply.read()
                if reply.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.name}: not ready after {seconds} s")
        await asyncio.sleep(0.2)


async def log_in(http: Any, base: str, tablet: Tablet) -> None:
    async with http.get(f"{base}/login") as reply:
        body = await reply.text()
        tablet.take_cookies(reply)
    token = CSRF.search(body).group(1)
    async with http.post(f"{base}/login", data={"csrf_token": token, "username": tablet.username,
                                                  "password": PASSWORD},
                         headers={"Cookie": tablet.cookie_header()}, allow_redirects=False) as reply:
        await reply.read()
        tablet.take_cookies(reply)
        if reply.status != 302:
            raise SystemExit(f"login of {tablet.username} answered {reply.status}")
    async with http.get(f"{base}/fill/{tablet.uuid}", headers={"Cookie": tablet.cookie_header()},
                        allow_redirects=False) as reply:
        body = await reply.text()
        tablet.take_cookies(reply)
        if reply.status != 200:
            raise SystemExit(f"the draft of {tablet.username} answered {reply.status}")
    tablet.token = CSRF.search(body).group(1)
    tablet.version = int(VERSION.search(body).group(1))


async def save(http: Any, base: str, tablet: Tablet | BareTablet, pages: list[str], tally: Tally,
               window: tuple[float, float]) -> None:
    """One tap: answer the current question and go on (htmx), as the stepper does."""
    page = pages[tablet.page]
    value = (tablet.cycle + tablet.number + tablet.page) % 6
    data = {"csrf_token": tablet.token, "version": str(tablet.version), "page": page, page: str(value),
            "go": "next"}
    # As the tablet's answer queue sends it: htmx, a key of its own per save (idempotency).
    headers = {"HX-Request": "true", "HX-Current-URL": f"{base}/fill/{tablet.uuid}",
               "Idempotency-Key": secrets.token_urlsafe(12), "Cookie": tablet.cookie_header()}
    started = time.monotonic()
    try:
        async with http.post(f"{base}/fill/{tablet.uuid}/save", data=data, headers=headers,
                             allow_redirects=False) as reply:
            body = await reply.text()
            status = reply.status
            said = reply.headers.get("X-Draft-Version")
            tablet.take_cookies(reply)
    except Exception:  # noqa: BLE001 - a timeout or a dropped connection: outcome unknown
        tally.errors += 1
        tablet.unacked += 1
        return
    ended = time.monotonic()
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    if window[0] <= started < window[1]:
        tally.latencies.append((ended - started) * 1000)
    if window[0] <= ended < window[1]:
        tally.done_in_window += 1
    if status in (200, 204):
        found = VERSION.search(body)
        tablet.version = int(said) if said else int(found.group(1)) if found else tablet.version + 1
        tablet.acked[page] = value
        tablet.acked_saves += 1
        tablet.page += 1
        if tablet.page == len(pages):
            tablet.page = 0
            tablet.cycle += 1
    elif status == 409:
        tally.conflicts += 1
        found = VERSION.search(body)
        if said or found:
            tablet.version = int(said) if said else int(found.group(1))
    else:
        tally.errors += 1


def cpu_now(server: Server) -> tuple[float, float]:
    """CPU seconds so far of the server (master and workers) and of this load generator."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return server.cpu_seconds(), own.ru_utime + own.ru_stime


def database_cpu_seconds() -> float:
    """CPU seconds so far of every PostgreSQL process on this machine (its backends and its writers).

    Other work using the same PostgreSQL server is counted too; against the
    bare app (no database) the figure shows how much that was.
    """
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, _, rest = stat.partition(" (")[2].rpartition(") ")
            if name == "postgres" or name.startswith("postgres:"):
                fields = rest.split()
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def run_phase(http: Any, server: Server, tablets: list, pages: list[str], *, warmup: float,
                    seconds: float, think: float | None) -> tuple[Tally, dict[str, float]]:
    """All tablets save for warmup + seconds; think None means no pause (saturation).

    Returns the tally and the CPU seconds the server and the load generator used in the window.
    """
    tally = Tally()
    base = server.url
    start = time.monotonic()
    window = (start + warmup, start + warmup + seconds)
    cpu: dict[str, float] = {}

    async def probe() -> None:  # CPU time over the measuring window only, not the warm-up
        await asyncio.sleep(max(0.0, window[0] - time.monotonic()))
        server_before, own_before = cpu_now(server)
        database_before = database_cpu_seconds()
        await asyncio.sleep(max(0.0, window[1] - time.monotonic()))
        server_after, own_after = cpu_now(server)
        database_after = database_cpu_seconds()
        cpu.update(server=server_after - server_before, generator=own_after - own_before,
                   database=database_after - database_before)

    async def tablet_loop(tablet) -> None:
        rng = random.Random(tablet.number)
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))
        while time.monotonic() < window[1]:
            await save(http, base, tablet, pages, tally, window)
            if think:
                await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))

    await asyncio.gather(probe(), *(tablet_loop(t) for t in tablets))
    return tally, cpu


async def drive(args: argparse.Namespace, servers: dict[str, Server], tablets: list[Tablet],
                pages: list[str]) -> dict[str, dict[str, Any]]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=60)
    results: dict[str, dict[str, Any]] = {name: {} for name in servers}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as http:
        for server in servers.values():
            await wait_ready(http, f"{server.url}/ready" if server.name == "bare" else f"{server.url}/login",
                             server)
        app = servers["app"]
        gate = asyncio.Semaphore(8)

        async def one_login(tablet: Tablet) -> None:
            async with gate:
                await log_in(http, app.url, tablet)

        began = time.monotonic()
        await asyncio.gather(*(one_login(t) for t in tablets))
        print(f"  {len(tablets)} tablets logged in ({time.monotonic() - began:.1f} s)", flush=True)
        # The bare app stores nothing: its tablets carry the same cookies and tokens, and their own state.
        bare_tablets = [BareTablet(t.number, t.uuid, dict(t.cookies), t.token) for t in tablets]

        def own(name: str) -> list:
            return bare_tablets if name == "bare" else tablets

        # The servers take turns in short slices, in a rotating order, so a change in the machine's
        # load during the run (other work) falls on all of them alike.
        names = list(servers)
        for kind in ("saturation", "think"):
            total, think = ((args.saturation_seconds, None) if kind == "saturation"
                            else (args.think_seconds, args.think))
            # think-time tablets start spread over two think times: the warm-up covers that
            warmup = args.warmup if think is None else max(args.warmup, 2 * think)
            for round_ in range(args.rounds):
                turn = names[round_ % len(names):] + names[:round_ % len(names)]
                for name in turn:
                    tally, cpu = await run_phase(http, servers[name], own(name), pages, warmup=warmup,
                                                 seconds=total / args.rounds, think=think)
                    into = results[name].setdefault(kind, {"tally": Tally(), "seconds": 0.0,
                                                           "server_cpu": 0.0, "generator_cpu": 0.0,
                                                           "database_cpu": 0.0})
                    into["tally"].add(tally)
                    into["seconds"] += total / args.rounds
                    into["server_cpu"] += cpu["server"]
                    into["generator_cpu"] += cpu["generator"]
                    into["database_cpu"] += cpu["database"]
                    summary = (f"{tally.done_in_window * args.rounds / total:7.0f} saves/s" if think is None
                               else f"p95 {percentile(tally.latencies, 0.95):6.1f} ms")
                    print(f"  {kind:<10} {name:<10} round {round_ + 1}: {summary}   "
                          f"statuses {dict(sorted(tally.statuses.items()))}", flush=True)
    return results


# -- checking and reporting ------------------------------------------------------------------------

def lost_answers(url: str, tablets: list[Tablet]) -> tuple[int, int, list[str]]:
    """(lost, acknowledged saves, notes): every acknowledged answer must be stored."""
    from sqlalchemy import create_engine, select

    from formengine.models import Response

    engine = create_engine(url)
    lost = 0
    notes = []
    with engine.connect() as conn:
        rows = {row.uuid: row for row in conn.execute(
            select(Response.uuid, Response.answers, Response.version))}
    engine.dispose()
    for tablet in tablets:
        row = rows.get(tablet.uuid)
        answers = (row.answers or {}) if row is not None else {}
        for item, value in tablet.acked.items():
            if answers.get(item) != value:
                lost += 1
                if len(notes) < 5:
                    notes.append(f"{tablet.username} {item}: acknowledged {value}, "
                                 f"stored {answers.get(item)}")
        stored_saves = (row.version - 1) if row is not None else 0
        # Each acknowledged save raised the version by one; fewer means a save was overwritten.
        if stored_saves < tablet.acked_saves:
            lost += tablet.acked_saves - stored_saves
            if len(notes) < 5:
                notes.append(f"{tablet.username}: {tablet.acked_saves} saves acknowledged, "
                             f"version {row.version if row is not None else None}")
        elif stored_saves > tablet.acked_saves + tablet.unacked:
            notes.append(f"{tablet.username}: version {row.version} after {tablet.acked_saves} "
                         f"acknowledged and {tablet.unacked} unanswered saves")
    return lost, sum(t.acked_saves for t in tablets), notes


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]], lost: tuple[int, int, list[str]],
           load_before: tuple[float, ...], load_after: tuple[float, ...], postgres: str) -> bool:
    bare_sat = results["bare"]["saturation"]
    bare_rate = bare_sat["tally"].done_in_window / bare_sat["seconds"]
    bare_lat = results["bare"]["think"]["tally"].latencies
    bare_p = {q: percentile(bare_lat, q) for q in (0.5, 0.95, 0.99)}
    print()
    print(f"load benchmark: {args.tablets} tablets, gunicorn {args.workers} {args.worker_class} workers per "
          f"server, {postgres}, WHO-5 saves (htmx, one tap = save and next question)")
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(f"machine: {os.cpu_count()} cores; load average before {before}, after {after}")
    print(f"saturation (no think time; {args.saturation_seconds:g} s per server in {args.rounds} turns, "
          f"each after {args.warmup:g} s warm-up):")
    rates = {}
    for name, result in results.items():
        sat = result["saturation"]
        rate = sat["tally"].done_in_window / sat["seconds"]
        rates[name] = rate
        saves = max(1, sat["tally"].done_in_window)
        cpu = (f"CPU per save: server {1000 * sat['server_cpu'] / saves:.2f} ms, "
               f"load generator {1000 * sat['generator_cpu'] / saves:.2f} ms, "
               f"PostgreSQL {1000 * sat['database_cpu'] / saves:.2f} ms")
        ratio = "" if name == "bare" else f"  {rate / bare_rate:.2f}x bare"
        print(f"  {name:<13} {rate:7.0f} saves/s{ratio:<14}  {cpu}, "
              f"errors {sat['tally'].errors}, conflicts {sat['tally'].conflicts}")
    print(f"think time {args.think:g} s per tablet (uniform {0.5 * args.think:g}-{1.5 * args.think:g} s, "
          f"{args.think_seconds:g} s per server in {args.rounds} turns):")
    p95_ratio = float("nan")
    for name, result in results.items():
        tally = result["think"]["tally"]
        p = {q: percentile(tally.latencies, q) for q in (0.5, 0.95, 0.99)}
        line = (f"  {name:<13} p50 {p[0.5]:6.1f} ms  p95 {p[0.95]:6.1f} ms  p99 {p[0.99]:6.1f} ms  "
                f"(n={len(tally.latencies)})")
        if name != "bare":
            line += (f"  ratio to bare: p50 {p[0.5] / bare_p[0.5]:.1f}x, p95 {p[0.95] / bare_p[0.95]:.1f}x, "
                     f"p99 {p[0.99] / bare_p[0.99]:.1f}x")
            if name == "app":
                p95_ratio = p[0.95] / bare_p[0.95]
        print(line)
    if "baseline" in results:
        def cpu_per_save(name: str) -> float:
            sat = results[name]["saturation"]
            return 1000 * sat["server_cpu"] / max(1, sat["tally"].done_in_window)

        lat_now = percentile(results["app"]["think"]["tally"].latencies, 0.95)
        lat_then = percentile(results["baseline"]["think"]["tally"].latencies, 0.95)
        print(f"app vs baseline ({args.baseline}): saturation {rates['app']:.0f} vs {rates['baseline']:.0f} "
              f"saves/s ({rates['app'] / rates['baseline']:.2f}x); server CPU per save "
              f"{cpu_per_save('app'):.2f} vs {cpu_per_save('baseline'):.2f} ms; p95 {lat_now:.1f} vs "
              f"{lat_then:.1f} ms")
    if "unchecked" in results:
        with_checks, without = rates["app"], rates["unchecked"]
        lat_with = percentile(results["app"]["think"]["tally"].latencies, 0.95)
        lat_without = percentile(results["unchecked"]["think"]["tally"].latencies, 0.95)
        print(f"security measures (session checks, audit of draft saves): saturation {with_checks:.0f} vs "
              f"{without:.0f} saves/s without them ({with_checks / without:.2f}x, "
              f"{100 * (1 - with_checks / without):+.0f}% cost); p95 {lat_with:.1f} vs {lat_without:.1f} ms")
    count, acked, notes = lost
    print(f"lost answers: {count} (of {acked} acknowledged saves)")
    for note in notes:
        print(f"  {note}")
    rate, ratio = rates["app"], rates["app"] / bare_rate
    met = [
        ("saturation >= 1000 saves/s", rate >= 1000, f"{rate:.0f}"),
        ("saturation >= 0.33x bare", ratio >= 0.33, f"{ratio:.2f}x"),
        (f"p95 at {args.tablets} tablets <= 3x bare", p95_ratio <= 3, f"{p95_ratio:.1f}x"),
        ("nothing lost", count == 0, str(count)),
    ]
    for label, ok, figure in met:
        print(f"target {label}: {'met' if ok else 'NOT met'} ({figure})")
    return count == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tablets", type=int, default=200, help="simulated tablets (default 200)")
    parser.add_argument("--quick", action="store_true", help="short phases (about a minute in all)")
    parser.add_argument("--security-cost", action="store_true",
                        help="also serve the app without session checks and draft-save audit, and compare")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server to create the throwaway database on")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--think", type=float, default=2.0, help="mean think time per tablet, seconds")
    parser.add_argument("--saturation-seconds", type=float, default=None)
    parser.add_argument("--think-seconds", type=float, default=None)
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None,
                        help="slices per server and phase, taken in turns (default 3, 1 with --quick)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also serve the application from another checkout of the project (before/after)")
    parser.add_argument("--profile", metavar="DIR",
                        help="profile the app's workers (cProfile), one file per worker in DIR")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database (to inspect)")
    args = parser.parse_args()
    args.saturation_seconds = args.saturation_seconds or (6 if args.quick else 20)
    args.think_seconds = args.think_seconds or (15 if args.quick else 60)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    args.rounds = max(1, args.rounds or (1 if args.quick else 3))

    load_before = os.getloadavg()
    name = f"bench_load_{os.getpid()}"
    servers: dict[str, Server] = {}
    print(f"load benchmark: setting up {args.tablets} tablets in database {name}", flush=True)
    url = create_database(args.server, name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            instance = Path(tmp) / "instance"
            tablets, pages, _hash = populate(url, instance, args.tablets)
            from sqlalchemy import create_engine, text

            engine = create_engine(url)
            with engine.connect() as conn:
                postgres = "PostgreSQL " + str(conn.execute(text("SHOW server_version")).scalar())
            engine.dispose()
            env = {k: v for k, v in os.environ.items() if not k.startswith("FORMENGINE_")}
            env.update({
                "FORMENGINE_DATABASE_URL": url,
                "FORMENGINE_SECRET_KEY": secrets.token_hex(32),
                "FORMENGINE_SESSION_COOKIE_SECURE": "false",
                "FORMENGINE_INSTANCE_PATH": str(instance),
                "FORMENGINE_LOG_LEVEL": "WARNING",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            })
            targets = {"bare": "load:bare_app()",
                       "app": "load:profiled_app()" if args.profile else "formengine:create_app()"}
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                env["LOAD_BENCH_PROFILE_DIR"] = str(Path(args.profile).resolve())
            if args.security_cost:
                targets["unchecked"] = "load:unchecked_app()"
            envs = {name: env for name in targets}
            if args.baseline:
                # Another checkout of the project (e.g. `git archive` of an earlier commit), on the same
                # database, so before and after are measured in one run on the same machine load.
                targets["baseline"] = "formengine:create_app()"
                envs["baseline"] = {**env, "PYTHONPATH": str(Path(args.baseline).resolve())}
            for server_name, target in targets.items():
                servers[server_name] = start_server(server_name, target, envs[server_name], args.workers,
                                                    args.worker_class, Path(tmp) / f"{server_name}.log")
            try:
                results = asyncio.run(drive(args, servers, tablets, pages))
            finally:
                for server in servers.values():
                    stop_server(server)
                for server_name in servers:
                    log = (Path(tmp) / f"{server_name}.log").read_text().strip()
                    if log:
                        print(f"--- {server_name} server log (last lines) ---")
                        print("\n".join(log.splitlines()[-15:]))
            lost = lost_answers(url, tablets)
    finally:
        if not args.keep_database:
            drop_database(args.server, name)
    ok = report(args, results, lost, load_before, os.getloadavg(), postgres)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
