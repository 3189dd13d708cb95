"""Any bench, side by side with a baseline, in one run: the old tree and this one take turns.

    python -m bench.compare --baseline /tmp/base [--rounds 2] -- bench.train_speed --rounds 1

The baseline is another checkout of the project (a `git worktree add /tmp/base <commit>` with
its `.venv` and `data` linked in). Each round runs the bench once in the baseline (its own code,
its own bench, its own python) and once here, in alternating order, so a machine that slows down
slows both; the markdown tables each run printed are shown under its label. Ratios between the
two hold on a noisy machine; absolute times don't. (bench/classroom.py has its own --compare,
which drives both servers with this tree's bench.)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from lenet.files import ROOT


def run(root: Path, bench: list[str]) -> tuple[str, float]:
    """The bench's output in `root` (its tables only), and how long it took."""
    python = root / ".venv" / "bin" / "python"
    start = time.perf_counter()
    done = subprocess.run([str(python if python.exists() else sys.executable), "-m", *bench], cwd=root,
                          capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(root)})
    if done.returncode != 0:
        sys.exit(f"{' '.join(bench)} failed in {root}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    tables = [line for line in done.stdout.splitlines() if line.startswith("|") or line.startswith("round ")]
    return "\n".join(tables), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- bench.NAME [its arguments]")
    args = parser.parse_args()
    bench = args.bench[1:] if args.bench[:1] == ["--"] else args.bench
    sides = {"baseline": args.baseline.resolve(), "current": ROOT}
    for r in range(args.rounds):
        for label in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            tables, seconds = run(sides[label], bench)
            print(f"\n### round {r + 1}, {label} ({sides[label]}, {seconds:.0f} s)\n\n{tables}", flush=True)


if __name__ == "__main__":
    main()
