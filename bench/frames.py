"""What "watch it learn" costs training: the default recipe with and without frames, side by side.

    python -m bench.frames [--rounds 4] [--every 500]

A frame is conv1's filters and one fixed digit's conv1 and conv2 maps, taken every `--every`
training samples and pickled the way the training process sends it to the server. Both sides
train with the app's own hook (lenet.classroom.trainer.LiveHook: live probes, weights, a saved
epoch), one filming and one not. Each round trains one epoch of each, in alternating order, so a
noisy machine slows both alike; the figure is the median of the per-round ratios. Target: at
most 5% slower.
"""
from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import threading
from pathlib import Path

import torch

from lenet.classroom.protocol import Filmed, Order
from lenet.classroom.trainer import LiveHook
from lenet.config import TrainConfig
from lenet.data import load_mnist
from lenet.train import train


class _NoPages:
    value = 0  # no page is ever being served: the trainer never waits


def samples_per_s(data, every: int | None) -> tuple[float, int, int]:
    """(samples/s of one default epoch, frames taken, bytes they pickle to)."""
    sent: list[bytes] = []

    def send(message) -> None:
        data_ = pickle.dumps(message)  # what crossing the pipe costs the trainer
        if isinstance(message, Filmed):
            sent.append(data_)

    with tempfile.TemporaryDirectory() as tmp:
        order = Order(config=TrainConfig(), path=Path(tmp) / "run.pt")
        hook = LiveHook(send, threading.Event(), _NoPages, order, [], frame_every=every, govern=False)
        result = train(order.config, data, hook)
    return result.history[-1]["samples_per_s"], len(sent), sum(map(len, sent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--every", type=int, default=500, help="training samples between frames")
    args = parser.parse_args()
    data = load_mnist()
    samples_per_s(data, None)  # warm-up: first-touch allocations, OpenMP pool
    plain, filmed, ratios = [], [], []
    for r in range(args.rounds):
        order = (None, args.every) if r % 2 == 0 else (args.every, None)
        got = {every: samples_per_s(data, every) for every in order}
        plain.append(got[None][0])
        filmed.append(got[args.every][0])
        ratios.append(filmed[-1] / plain[-1])
        print(f"round {r + 1}: without {plain[-1]:,.0f} · with {filmed[-1]:,.0f} samples/s "
              f"({got[args.every][1]} frames, {got[args.every][2] / 1e6:.1f} MB)")
    ratio = statistics.median(ratios)
    print(f"\n| training, one default epoch ({torch.get_num_threads()} threads) | samples/s |\n|---|---|")
    print(f"| without frames | {statistics.median(plain):,.0f} |")
    print(f"| with a frame every {args.every} samples | {statistics.median(filmed):,.0f} |")
    print(f"\nwith/without: {ratio:.3f} (median of {args.rounds} rounds) · slowdown {1 - ratio:+.1%} "
          f"· target ≤ 5%: {'met' if ratio >= 0.95 else 'MISSED'}")


if __name__ == "__main__":
    main()
