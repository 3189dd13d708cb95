"""What a user feels in a real browser, against its targets.

    python -m bench.browser [--rounds 3] [--no-run]

Runs tests/browser (Debian's chromium, Playwright, the app started as `make run`
does), which records its timings in out/browser/timings.json, and checks them here: timing
targets belong to a bench, not to tests that would fail on a busy machine. With --rounds N the
tests run N times and each figure is shown as its range over the rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from lenet.files import ROOT

TIMINGS = ROOT / "out" / "browser" / "timings.json"

# (what, how to read it from timings.json, the target, whether lower is better)
TARGETS = [
    ("a page is ready after navigation (s)", lambda t: max(t["page_load_s"].values()), 3.0, True),
    ("a sidebar page switch (s)", lambda t: max(t["page_switch_s"]), 3.0, True),
    ("end of a stroke → Prediction, median of 8 digits (ms)", lambda t: t["stroke_to_prediction_ms"]["median"], 400,
     True),
    ("the first stroke after a page load (ms)", lambda t: t["stroke_to_prediction_ms"]["first"], 400, True),
    ("first chart points after Start (s)", lambda t: t["training"]["first_points_s"], 2.0, True),
    ("chart updates per second while training", lambda t: t["training"]["chart_updates_per_s"], 1.0, False),
    ("a Draw prediction during training, median (ms)", lambda t: t["training"]["draw_during_training_ms"]["median"],
     600, True),
    ("Stop → the page says Stopped (s)", lambda t: t["training"]["stop_s"], 1.0, True),
    ("Start on r1 → an idle Draw tab on r2 offers the live model, by a push (s)",
     lambda t: t["replicas"]["start_on_r1_to_idle_r2_picker_s"], 2.0, True),
    *[(f"see inside, {model}: {view} (s)", lambda t, m=model, v=view: t["see_inside_s"][m][v], 1.0, True)
      for model in ("shipped lenet5", "fresh run")
      for view in ("why this answer", "convolution stepper", "step", "click on the map", "conv2, six maps",
                   "pooling window", "softmax", "digit map")],
    *[(f"see inside, {model}: Play, seconds per step", lambda t, m=model: t["see_inside_s"][m]["play, one step"], 1.0,
       True) for model in ("shipped lenet5", "fresh run")],
]


def run_tests() -> dict:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/browser"], cwd=ROOT,
                          env=os.environ | {"LENET_SHOTS": str(TIMINGS.parent)})
    if done.returncode != 0:
        sys.exit("the browser tests failed; fix them before reading their timings")
    return json.loads(TIMINGS.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-run", action="store_true", help="only read the last out/browser/timings.json")
    args = parser.parse_args()
    rounds = [json.loads(TIMINGS.read_text())] if args.no_run else [run_tests() for _ in range(args.rounds)]
    print(f"\nReal browser (Debian chromium, headless, on the same machine as the server), {len(rounds)} round(s)\n")
    print("| target | measured | target | met |")
    print("|---|---|---|---|")
    for what, read, target, lower in TARGETS:
        try:
            values = [read(t) for t in rounds]
        except KeyError:  # that test did not run (-k, or --no-run after a partial run)
            print(f"| {what} | not measured | {'≤' if lower else '≥'} {target:g} | |")
            continue
        shown = f"{min(values):g}" if min(values) == max(values) else f"{min(values):g}–{max(values):g}"
        worst = max(values) if lower else min(values)
        met = worst <= target if lower else worst >= target
        print(f"| {what} | {shown} | {'≤' if lower else '≥'} {target:g} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
