"""Training speed: LeNet Lab's trainer against the tutorial pipeline, side by side in one run.

    python -m bench.train_speed [--rounds 2] [--tutorial-batches 300]

Tutorial pipeline (the baseline): torchvision MNIST with per-sample ToTensor + Normalize,
a DataLoader with batch 64, Adam, and the textbook LeNet-5 written with nn layers.
LeNet Lab: lenet.train.train with its default recipe (whole set as one tensor in memory,
batch 128, fused AdamW, one-cycle, polyphase conv1+pool and Max4 kernels).
Rounds alternate the two so that a noisy machine slows both alike; we report medians.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets, transforms

from lenet.data import DEFAULT_ROOT, MEAN, STD, load_mnist
from lenet.train import TrainConfig, train


def tutorial_lenet() -> nn.Module:
    """LeNet-5 as tutorials write it: conv -> relu -> max-pool, padding 2 on the first conv."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def tutorial_samples_per_s(batches: int) -> float:
    """Samples/s of the tutorial training loop over `batches` batches of 64, after 20 warm-up batches."""
    dataset = datasets.MNIST(str(DEFAULT_ROOT), train=True,
                             transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]))
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
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tutorial-batches", type=int, default=300)
    args = parser.parse_args()
    data = load_mnist()
    cfg = TrainConfig()
    tutorial, ours, runs = [], [], []
    for r in range(args.rounds):
        tutorial.append(tutorial_samples_per_s(args.tutorial_batches))
        result = train(cfg, data)
        runs.append(result.history[-1])
        ours.append(statistics.mean(h["samples_per_s"] for h in result.history))
        print(f"round {r + 1}: tutorial {tutorial[-1]:,.0f} samples/s, lenet5 {ours[-1]:,.0f} samples/s, "
              f"test accuracy {runs[-1]['test_accuracy']:.2%} after {runs[-1]['train_s']:.1f} s of training", flush=True)
    t, o = statistics.median(tutorial), statistics.median(ours)
    ratio = statistics.median(b / a for a, b in zip(tutorial, ours))  # per round: both saw the same machine
    print(f"\nTorch {torch.__version__}, {torch.get_num_threads()} threads, device {cfg.device}")
    print(f"Default recipe: {cfg.epochs} epoch(s), batch {cfg.batch_size}, lr {cfg.lr}, {cfg.optimizer}, "
          f"{cfg.schedule}, label smoothing {cfg.label_smoothing}\n")
    print("| pipeline | samples/s (median) | ratio (median of rounds) |")
    print("|---|---|---|")
    print(f"| tutorial: per-sample ToTensor+Normalize, DataLoader batch 64, Adam | {t:,.0f} | 1.0× |")
    print(f"| LeNet Lab `lenet5` default recipe | {o:,.0f} | {ratio:.1f}× |")
    print("\n| run | test accuracy | training s | elapsed s (with evaluation) |")
    print("|---|---|---|---|")
    for i, h in enumerate(runs, 1):
        print(f"| {i} | {h['test_accuracy']:.2%} | {h['train_s']:.2f} | {h['elapsed_s']:.2f} |")


if __name__ == "__main__":
    main()
