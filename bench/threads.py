"""How many threads the app's training process should use: fixed counts against the governor.

    python -m bench.threads [--rounds 2]

The app trains in a process niced by 10 (pages come first), on the same cores as the server
and, on a teacher's laptop, the projector's browser. This trains the default recipe that way,
niced, with a fixed 2 threads, a fixed 1 thread and lenet.classroom.tuning.ThreadGovernor (what the app
uses), first on a free machine, then with one core kept busy by another program at normal
priority (what a browser drawing live charts does). Each run is one epoch on the free machine, and the
first 25,600 training images (200 batches) on the busy one, where 2 threads would take minutes
for a whole epoch; the governor's first tries are part of its figure. Runs alternate within each round, and the table
gives the median samples/s of each over the rounds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import torch

from lenet.classroom.protocol import Order
from lenet.classroom.trainer import LiveHook
from lenet.config import TrainConfig
from lenet.data import load_mnist
from lenet.train import train

SETUPS = ("2 threads", "1 thread", "governor")
IMAGES = {"free machine": None, "one core busy": 25_600}  # None: the whole training set


class _NoPages:
    value = 0  # no page is ever being served: the trainer never waits


@contextmanager
def busy_core():
    """One core kept busy by a plain loop at normal priority, like a browser drawing charts."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def epoch(data, setup: str, images: int | None) -> float:
    """Samples/s of the default recipe on the first `images` images, trained the way `setup` says."""
    torch.set_num_threads(1 if setup == "1 thread" else os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:  # the app's own hook, its messages dropped
        order = Order(config=TrainConfig(limit=images), path=Path(tmp) / "run.pt")
        hook = LiveHook(lambda message: None, threading.Event(), _NoPages, order, [], govern=setup == "governor")
        result = train(order.config, data, hook)
    return result.history[-1]["samples_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.nice(10)  # as the app's training process
    data = load_mnist()
    rows = {}
    for load in ("free machine", "one core busy"):
        speeds: dict[str, list[float]] = {s: [] for s in SETUPS}
        with busy_core() if load == "one core busy" else _nothing():
            for r in range(args.rounds):
                for setup in SETUPS if r % 2 == 0 else SETUPS[::-1]:
                    speeds[setup].append(epoch(data, setup, IMAGES[load]))
        rows[load] = {s: statistics.median(v) for s, v in speeds.items()}
    print(f"\n{os.cpu_count()} cores, torch {torch.__version__}, niced by 10, default recipe, "
          f"median of {args.rounds} round(s)\n")
    print("| machine | " + " | ".join(SETUPS) + " | governor / best fixed |")
    print("|---|" + "---|" * (len(SETUPS) + 1))
    for load, row in rows.items():
        best = max(row["2 threads"], row["1 thread"])
        print(f"| {load} | " + " | ".join(f"{row[s]:,.0f}" for s in SETUPS) + f" | {row['governor'] / best:.2f} |")


@contextmanager
def _nothing():
    yield


if __name__ == "__main__":
    main()
