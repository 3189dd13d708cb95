"""Training speed: LeNet Lab's trainer against the tutorial pipeline, side by side in one run.

    python -m bench.train_speed [--rounds 3] [--tutorial-batches 300]

Tutorial pipeline (the baseline): torchvision MNIST with per-sample ToTensor + Normalize,
a DataLoader with batch 64, Adam, and the textbook LeNet-5 written with nn layers.
LeNet Lab: lenet.train.train with its default recipe (whole set as one tensor in memory,
batch 128, fused AdamW, one-cycle), once with the plain model from lenet/models.py and once
through lenet/fast.py's kernels (what `train` does by default).
Each round runs all three in turn, so a noisy machine slows them alike; we report medians of
the per-round ratios.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets, transforms

from lenet.config import TrainConfig
from lenet.data import MEAN, STD, load_mnist
from lenet.files import data_root
from lenet.train import train


def tutorial_lenet() -> nn.Module:
    """LeNet-5 as tutorials write it: conv -> relu -> max-pool, padding 2 on the first conv."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def tutorial_samples_per_s(batches: int) -> float:
    """Samples/s of the tutorial training loop over `batches` batches of 64, after 20 warm-up batches."""
    per_sample = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    dataset = datasets.MNIST(str(data_root()), train=True, transform=per_sample)
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)
    model = tutorial_lenet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    seen, start = 0, 0.0
    for i, (x, y) in enumerate(loader):
        if i == 20:
            seen, start = 0, time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
        if i == 20 + batches:
            break
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tutorial-batches", type=int, default=300)
    args = parser.parse_args()
    data = load_mnist()
    cfg = TrainConfig()
    speed: dict[str, list[float]] = {"tutorial": [], "plain": [], "fast": []}
    runs: dict[str, list[dict]] = {"plain": [], "fast": []}
    for r in range(args.rounds):
        speed["tutorial"].append(tutorial_samples_per_s(args.tutorial_batches))
        for kind in ("plain", "fast"):
            record = train(replace(cfg, kernels=kind), data).history[-1]
            runs[kind].append(record)
            speed[kind].append(record["samples_per_s"])
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f} samples/s" for k, v in speed.items()) +
              f"; lenet5 test accuracy {runs['fast'][-1]['eval_accuracy']:.2%} after "
              f"{runs['fast'][-1]['train_s']:.1f} s of training", flush=True)

    def ratio(kind: str) -> float:  # per round: all three saw the same machine
        return statistics.median(b / a for a, b in zip(speed["tutorial"], speed[kind], strict=True))

    print(f"\n{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {cfg.device}")
    print(f"Default recipe: {cfg.epochs} epoch(s), batch {cfg.batch_size}, lr {cfg.lr}, {cfg.optimizer}, "
          f"{cfg.schedule}, label smoothing {cfg.label_smoothing}\n")
    print("| pipeline | samples/s (median) | ratio to the tutorial (median of rounds) |")
    print("|---|---|---|")
    print(f"| tutorial: per-sample ToTensor+Normalize, DataLoader batch 64, Adam | "
          f"{statistics.median(speed['tutorial']):,.0f} | 1.0× |")
    print(f"| LeNet Lab `lenet5` default recipe, plain model (lenet/models.py) | "
          f"{statistics.median(speed['plain']):,.0f} | {ratio('plain'):.1f}× |")
    print(f"| LeNet Lab `lenet5` default recipe, `accelerate` (lenet/fast.py; what `train` does) | "
          f"{statistics.median(speed['fast']):,.0f} | {ratio('fast'):.1f}× |")
    print("\n| run | test accuracy (plain) | test accuracy (fast) | training s (fast) "
          "| elapsed s (fast, with evaluation) |")
    print("|---|---|---|---|---|")
    for i, (p, f) in enumerate(zip(runs["plain"], runs["fast"], strict=True), 1):
        print(f"| {i} | {p['eval_accuracy']:.2%} | {f['eval_accuracy']:.2%} | {f['train_s']:.2f} "
              f"| {f['elapsed_s']:.2f} |")


if __name__ == "__main__":
    main()
