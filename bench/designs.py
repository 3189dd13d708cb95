"""A class tries its designs: N students each submit a different design under the class budget,
while M others keep drawing, all on one server with a teacher key (so the designs queue).

    python -m bench.designs [--designers 30] [--drawers 30] [--budget-images 6000] [--budget-epochs 2]

Every visitor is a tests/session.Session with its page's timers, as in bench/classroom.py (whose
drawing students this reuses: a digit every 5 s on average, a look at Explain one time in five).
A designer opens Build, types its design (the text box's change, then Try it, as two requests,
as a browser sends them) and keeps the page open, its timers polling its run and the board,
until its design is on the board. Reported:
- when the last design finished, from the first Try it; designs per minute; each design's time
  in line and training (from the board's entries: wall_s is Start to last word);
- stroke → Prediction p50/p95 of the drawers over the same window (measured at the client, so it
  includes the wait for the socket: the server-side time is at most this);
- errors and wrong answers, and whether every design is on the board with both scores.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import tempfile
import time
from pathlib import Path

import torch

from bench.classroom import Browser, Tally, drawings, expected_table, student, visit
from harness.servers import app_server
from lenet.classroom import collection
from lenet.classroom.board import Budget, read_board, save_budget
from lenet.data import sample_digits
from lenet.designs import check

KEY = "bench-key"
CLASS_DRAWINGS = 60  # confirmed drawings in the collection: the designs' hidden test
TIMEOUT_S = 900.0  # the longest the bench waits for the last design


def designs(n: int, seed: int = 0) -> list[str]:
    """n different valid designs, of the kinds a class builds: one to three convolutions, pooling
    or not, zero to two fully connected layers."""
    rng, found = random.Random(seed), []
    while len(found) < n:
        layers = []
        for _ in range(rng.choice([1, 2, 2, 3])):
            layers.append(f"c{rng.choice([4, 6, 8, 12, 16])}k{rng.choice([3, 5])}" + rng.choice(["", "p1", "p2"]))
            layers += [rng.choice(["m2", "a2"])] if rng.random() < 0.8 else []
        layers += [f"f{rng.choice([32, 64, 84, 120])}" for _ in range(rng.choice([0, 1, 2]))]
        text = "-".join(layers)
        if check(text).problem is None and text not in found:
            found.append(text)
    return found


async def designer(b: Browser, design: str, board: Path, submitted: list[float]) -> None:
    """Open Build, type the design, press Try it; then stay until the run has ended (the timers
    poll it meanwhile)."""
    await b.open("build")
    await b.send(b.s.rerun(**{"text_input:Or type a design": ("string_value", design)}), full=True)
    submitted.append(time.perf_counter())
    await b.send(b.s.rerun(**{"button:Try it": ("trigger_value", True)}), full=True)
    while time.perf_counter() < b.until and design not in {e.design for e in read_board(board)}:
        await asyncio.sleep(1.0)
    b.until = 0.0  # the tab closes
    b.changed.set()


async def lesson(url: str, board: Path, plan: list[str], drawers: int) -> tuple[Tally, Tally, list[float], float]:
    """The designers submit while the drawers draw, until every design is on the board."""
    pictures, expected = drawings(), expected_table()
    drawn, designed, submitted = Tally(), Tally(), []
    end = time.perf_counter() + TIMEOUT_S

    designing = [asyncio.create_task(visit(url, end, designed, lambda b, d=d: designer(b, d, board, submitted)))
                 for d in plan]
    drawing_until = [end]
    drawing = [asyncio.create_task(visit(url, end, drawn, lambda b, s=s: student_until(b, pictures, drawing_until,
                                                                                       expected, s)))
               for s in range(drawers)]
    await asyncio.gather(*designing)
    finished = time.perf_counter()
    drawing_until[0] = finished
    await asyncio.gather(*drawing)
    return drawn, designed, submitted, finished


async def student_until(b: Browser, pictures, until: list[float], expected, seed: int) -> None:
    """A drawing student who leaves when the last design has finished."""
    task = asyncio.create_task(student(b, pictures, math.inf, expected, seed))
    while time.perf_counter() < until[0]:
        await asyncio.sleep(0.5)
    task.cancel()
    b.until = 0.0
    b.changed.set()


def percentile(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{1000 * ordered[math.ceil(q * len(ordered)) - 1]:.0f} ms" if ordered else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--designers", type=int, default=30)
    parser.add_argument("--drawers", type=int, default=30)
    parser.add_argument("--budget-images", type=int, default=Budget().images)
    parser.add_argument("--budget-epochs", type=int, default=Budget().epochs)
    args = parser.parse_args()
    plan = designs(args.designers)
    print(f"Machine: {len(os.sched_getaffinity(0))} cores, torch {torch.__version__}; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        save_budget(Budget(images=args.budget_images, epochs=args.budget_epochs), runs / "board")
        images, labels = sample_digits()
        for i in range(CLASS_DRAWINGS):  # the class's own drawings, for the hidden test
            collection.save(runs / "class", images[i], int(labels[i]))
        with app_server(runs, env={"LENET_TEACHER_KEY": KEY}) as server:
            drawn, designed, submitted, finished = asyncio.run(lesson(server.url, runs / "board", plan, args.drawers))
        entries = read_board(runs / "board")
    first = min(submitted) if submitted else finished
    span = finished - first
    print(f"\n{len(entries)} of {len(plan)} designs on the board, the last {span:.0f} s after the first Try it "
          f"({60 * len(entries) / span:.1f} designs a minute); budget {args.budget_images} images × "
          f"{args.budget_epochs} epochs")
    walls, trains = sorted(e.wall_s for e in entries), sorted(e.train_s for e in entries)
    if walls:
        print(f"per design, Start to finish: median {walls[len(walls) // 2]:.1f} s, slowest {walls[-1]:.1f} s; "
              f"training alone (epochs with evaluation): median {trains[len(trains) // 2]:.1f} s")
    print(f"both scores on every entry: {all(e.class_count == 0 or e.class_accuracy is not None for e in entries)}; "
          f"test accuracy {min(e.test_accuracy for e in entries):.1%}–{max(e.test_accuracy for e in entries):.1%}"
          if entries else "no entries")
    print(f"drawing meanwhile ({args.drawers} sessions): stroke → Prediction p50 {percentile(drawn.latencies, 0.5)}, "
          f"p95 {percentile(drawn.latencies, 0.95)}, {len(drawn.latencies)} drawings, {drawn.wrong_answers} wrong")
    print(f"errors: drawing {len(drawn.errors)}, designing {len(designed.errors)}")
    for line in (drawn.errors + designed.errors + drawn.notes)[:6]:
        print("  ", line)


if __name__ == "__main__":
    main()
