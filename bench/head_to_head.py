"""Answer saves of the application and of another checkout, served at the same time: who does more.

Run: ``python bench/head_to_head.py DIR [--tablets 100] [--seconds 15] [--rounds 4]``
(the ``bench`` and ``postgres`` extras), DIR holding ``formengine/`` of
another commit (``git archive <commit> formengine | tar -x -C DIR``).

``bench/load.py --baseline DIR`` lets the servers take turns, so a change in
the machine's load between two turns falls on one of them only; on a busy
machine that change can be larger than the difference between two versions.
Here both are served at once (gunicorn, 4 workers each, the same database,
set up as in ``bench/load.py``), half the tablets saving on each with no
pause, the halves swapped every round: both share whatever else the machine
does, and the cheaper one gets more saves done. It prints, per round and in
all, the saves per second and the server CPU per save of each, and the
ratio of their saves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402


async def drive(servers: dict[str, load.Server], tablets: list[load.Tablet], pages: list[str],
                seconds: float, rounds: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60),
                                     cookie_jar=aiohttp.DummyCookieJar()) as http:
        for server in servers.values():
            await load.wait_ready(http, f"{server.url}/login", server)
        gate = asyncio.Semaphore(8)

        async def one_login(tablet: load.Tablet) -> None:
            async with gate:
                await load.log_in(http, servers["app"].url, tablet)

        await asyncio.gather(*(one_login(t) for t in tablets))
        half = len(tablets) // 2
        groups = [tablets[:half], tablets[half:]]
        totals = {name: [0, 0.0] for name in servers}
        for round_ in range(rounds):
            mine, theirs = (groups[0], groups[1]) if round_ % 2 == 0 else (groups[1], groups[0])
            results: list[Any] = await asyncio.gather(*(
                load.run_phase(http, servers[name], group, pages, warmup=3, seconds=seconds, think=None)
                for name, group in (("app", mine), ("baseline", theirs))))
            line = []
            for name, (tally, cpu) in zip(("app", "baseline"), results, strict=True):
                done = max(1, tally.done_in_window)
                totals[name][0] += tally.done_in_window
                totals[name][1] += cpu["server"]
                line.append(f"{name} {tally.done_in_window / seconds:.0f} saves/s "
                            f"({1000 * cpu['server'] / done:.2f} ms CPU/save, errors {tally.errors})")
            print(f"  round {round_ + 1}: " + ", ".join(line), flush=True)
        for name, (done, cpu_seconds) in totals.items():
            print(f"{name:<9} {done / (seconds * rounds):.0f} saves/s, server CPU per save "
                  f"{1000 * cpu_seconds / max(1, done):.2f} ms (n={done})")
        print(f"app / baseline saves: {totals['app'][0] / max(1, totals['baseline'][0]):.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", metavar="DIR", help="a checkout holding formengine/ of another commit")
    parser.add_argument("--tablets", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15, help="measuring window per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds; the halves swap every round")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"load average before {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    name = f"bench_h2h_{os.getpid()}"
    url = load.create_database(args.server, name)
    servers: dict[str, load.Server] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            instance = Path(tmp) / "instance"
            tablets, pages, _hash = load.populate(url, instance, args.tablets)
            env = {k: v for k, v in os.environ.items() if not k.startswith("FORMENGINE_")}
            env.update({"FORMENGINE_DATABASE_URL": url, "FORMENGINE_SECRET_KEY": secrets.token_hex(32),
                        "FORMENGINE_SESSION_COOKIE_SECURE": "false",
                        "FORMENGINE_INSTANCE_PATH": str(instance), "FORMENGINE_LOG_LEVEL": "WARNING"})
            paths = {"app": str(load.ROOT), "baseline": str(Path(args.baseline).resolve())}
            for server_name, path in paths.items():
                servers[server_name] = load.start_server(server_name, "formengine:create_app()",
                                                         {**env, "PYTHONPATH": path}, 4, "sync",
                                                         Path(tmp) / f"{server_name}.log")
            try:
                asyncio.run(drive(servers, tablets, pages, args.seconds, args.rounds))
            finally:
                for server in servers.values():
                    load.stop_server(server)
    finally:
        load.drop_database(args.server, name)
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
