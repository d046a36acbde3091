"""The larger fuzzing run behind docs/reliability.md: N seeded mutants of every file kind.

    nice -n 10 python scripts/fuzz_files.py --mutants 400 --seed 1 --out runs/fuzz

Prints, per kind, the mutants tried and how each ended (accepted with finite results, one
clean error naming the file, or a failure: traceback, garbage, hang, memory, crash), then
the hostile-pickle set. Failures are written to OUT/failures.jsonl with the mutant's index,
so ``--kinds KIND --first I --mutants 1`` replays one. Exit status 1 if anything failed.
The harness lives in tests/fuzz/fuzzlib.py (shared with the CI suite).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

import fuzzlib  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=400, help="mutants per kind (default 400)")
    parser.add_argument("--first", type=int, default=0, help="index of the first mutant (default 0)")
    parser.add_argument("--seed", type=int, default=1, help="mutation seed (default 1; CI uses 0)")
    parser.add_argument("--kinds", default=",".join(fuzzlib.KINDS), help="comma-separated kinds")
    parser.add_argument("--parallel", type=int, default=2, help="children at a time (default 2)")
    parser.add_argument("--out", type=Path, default=Path("runs/fuzz"), help="folder for failures.jsonl")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    fuzzlib.warm_up()
    failures = (args.out / "failures.jsonl").open("w")
    print(
        f"{'kind':<18} {'tried':>6} {'accepted':>9} {'clean':>6} {'traceback':>9} {'garbage':>8} "
        f"{'hang':>5} {'memory':>6} {'crash':>6} {'max s':>6} {'max MB':>7}",
        flush=True,
    )
    total_bad = 0
    for kind in args.kinds.split(","):
        base = fuzzlib.build_base(kind, args.out / "base" / kind)
        started = time.perf_counter()
        results = fuzzlib.run_cases(
            kind,
            base,
            list(range(args.first, args.first + args.mutants)),
            args.out / "work",
            seed=args.seed,
            parallel=args.parallel,
        )
        counts = fuzzlib.summarize(results)
        bad = [r for r in results if r.outcome not in fuzzlib.GOOD]
        total_bad += len(bad)
        for r in bad:
            failures.write(
                json.dumps(
                    {"kind": kind, "seed": args.seed, "index": r.index, "outcome": r.outcome, "detail": r.detail}
                )
                + "\n"
            )
        failures.flush()
        print(
            f"{kind:<18} {len(results):>6} {counts['accepted']:>9} {counts['clean']:>6} {counts['traceback']:>9} "
            f"{counts['garbage']:>8} {counts['hang']:>5} {counts['memory']:>6} {counts['crash']:>6} "
            f"{max(r.seconds for r in results):>6.2f} {max(r.peak_mb for r in results):>7.0f}"
            f"   ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    hostile = fuzzlib.run_hostile(args.out / "hostile")
    refused = sum(outcome == "clean" for _, outcome, _ in hostile)
    print(
        f"hostile pickles: {len(hostile)} files, {refused} refused with a clean error, "
        f"{sum(outcome == 'EXECUTED' for _, outcome, _ in hostile)} ran code",
        flush=True,
    )
    for name, outcome, detail in hostile:
        if outcome != "clean":
            total_bad += 1
            print(f"  {name}: {outcome}: {detail[:200]}")
    print(f"failures: {total_bad} (details in {args.out / 'failures.jsonl'})")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
