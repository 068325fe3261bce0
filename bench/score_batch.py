"""Scoring benchmark: SDQ answer sets per second, for the scoring function and for `formengine score --batch`.

    python bench/score_batch.py [--sets 20000] [--profile]

1. the plugin's scoring function on answers that were already validated
   (target: 50,000 sets per second per core);
2. ``Instrument.score_answers`` (validation, then scoring), which is what
   ``formengine score`` does per answer set;
3. the ``formengine score --batch`` command in-process on a JSON Lines file
   (reading, JSON parsing, validation, scoring, JSON output; target 20,000/s).

Answer sets are random (seeded) complete parent SDQs with impact items. CPU
time of this process is printed beside wall time, because the machine may be
shared; figures are printed, never asserted. ``--profile`` prints the top of a
cProfile of step 3.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INSTRUMENT = "sdq_p4_17"
TARGET_FUNCTION = 50_000
TARGET_BATCH = 20_000


def answer_sets(instrument, n: int) -> list[dict]:
    from formengine.testing import sample_answers

    rng = random.Random(5)
    template = sample_answers(instrument, "first")
    out = []
    for _ in range(n):
        answers = {}
        for item_id, value in template.items():
            item = instrument.definition.items_by_id[item_id]
            if item.get("type", "choice") == "choice":
                codes = [o["code"] for o in instrument.definition.scale_options(item)]
                answers[item_id] = rng.choice(codes)
            else:
                answers[item_id] = value
        answers["ebddiff"] = rng.choice([0, 1, 2, 3])
        out.append(answers)
    return out


def timed(label: str, n: int, work, target: int | None = None) -> float:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = n / cpu if cpu else float("inf")
    goal = f"; {rate / target:.2f} x the {target:,}/s target" if target else ""
    print(f"{label:38s} {n / wall:10,.0f}/s wall, {rate:10,.0f}/s per CPU second{goal}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from formengine import create_app
    from formengine.cli import main as cli
    from formengine.instruments import ScoringContext
    from formengine.registry import get_registry

    instance = tempfile.mkdtemp(prefix="formengine-bench-")
    app = create_app({"INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    instrument = get_registry(app).get(INSTRUMENT)
    sets = answer_sets(instrument, args.sets)
    context = ScoringContext()
    n = len(sets)

    function = timed("scoring function (validated answers)", n,
                     lambda: [instrument.score(a, context) for a in sets], TARGET_FUNCTION)
    validated = timed("score_answers (validate + score)", n,
                      lambda: [instrument.score_answers(a, context) for a in sets])
    path = Path(instance) / "answers.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in sets), "utf-8")
    runner = app.test_cli_runner()

    def batch():
        result = runner.invoke(cli, ["score", INSTRUMENT, "--batch", str(path)])
        assert result.exit_code == 0, result.output[:500]

    command = timed("formengine score --batch", n, batch, TARGET_BATCH)
    print(f"validation share of score_answers: {1 - validated / function:.0%}; "
          f"--batch / scoring function: {command / function:.2f}")
    if args.profile:
        profile = cProfile.Profile()
        with redirect_stdout(io.StringIO()):
            profile.runcall(batch)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
