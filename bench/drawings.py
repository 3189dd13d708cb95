"""How well `classify` reads drawings, and how fast: the Drawings and Latency targets.

    python -m bench.drawings [--split report|tune] [--n 2700] [--checkpoint PATH ...]

Drawings are MNIST test digits re-rendered as users give them (harness/synth.py). Preprocessing
choices are tuned on the `tune` split (test indices 0-4999); the figures we report come from
the `report` split (5000-9999), which tuning never looks at.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import MNIST

from harness.synth import REPORT, SIZES, STROKES, STYLES, TUNE, drawings, render
from lenet.checkpoints import load_model
from lenet.classroom.tuning import keep_freed_memory
from lenet.data import ensure_mnist
from lenet.files import CHECKPOINT_DIR, data_root
from lenet.predict import classify
from lenet.preprocess import NoDigitError


def accuracy_by_kind(model: torch.nn.Module, split: range, n: int, seed: int) -> dict[str, tuple[int, int]]:
    """{kind: (right, total)} for overall, each style, each stroke and each size."""
    test = MNIST(str(data_root()), train=False)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in drawings(test.data.numpy(), test.targets.numpy(), split, n, seed):
        try:
            right = classify(model, d.image).digit == d.label
        except NoDigitError:
            right = False
        for kind in ("all", d.style, d.stroke, d.size):
            tally[kind][0] += right
            tally[kind][1] += 1
    return {k: (v[0], v[1]) for k, v in tally.items()}


def latency_ms(model: torch.nn.Module, repeats: int = 200) -> dict[str, float]:
    """Median and 95th-percentile ms for preprocessing + forward of one 280×280 canvas image."""
    test = MNIST(str(data_root()), train=False)
    digit, label = test.data[0].numpy(), int(test.targets[0])
    canvas = render(digit, label, 0, np.random.default_rng(0), "canvas", "normal", "medium").image
    for _ in range(20):
        classify(model, canvas)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        classify(model, canvas)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"median": statistics.median(times), "p95": times[int(0.95 * len(times)) - 1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("report", "tune"), default="report")
    parser.add_argument("--n", type=int, default=2700, help="drawings (a multiple of 27 covers every kind equally)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--checkpoint", type=Path, nargs="+",
                        default=[CHECKPOINT_DIR / f"{m}.pt" for m in ("lenet5", "lenet5-classic", "mlp")])
    args = parser.parse_args()
    keep_freed_memory()  # as the app's launcher and the CLI do (lenet/classroom/tuning.py)
    ensure_mnist()
    split = REPORT if args.split == "report" else TUNE
    kinds = ["all", *STYLES, *STROKES, *SIZES]
    print(f"Drawings: {args.n} from MNIST test {split.start}-{split.stop - 1} ({args.split} split), seed {args.seed}\n")
    print("| checkpoint | " + " | ".join(kinds) + " | latency median (p95) |")
    print("|---" * (len(kinds) + 2) + "|")
    for path in args.checkpoint:
        model, _ = load_model(path)
        acc = accuracy_by_kind(model, split, args.n, args.seed)
        lat = latency_ms(model)
        cells = [f"{100 * acc[k][0] / acc[k][1]:.1f}%" for k in kinds]
        print(f"| {path.name} | " + " | ".join(cells) + f" | {lat['median']:.2f} ms ({lat['p95']:.2f}) |", flush=True)


if __name__ == "__main__":
    main()
