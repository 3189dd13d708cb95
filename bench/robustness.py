"""Fooling the network, measured: accuracy against ε for the shipped models, under FGSM and the
20-step attack, and adversarial training (Train's *Adversarial ε*) against the plain recipe.

    python -m bench.robustness [--epochs 2] [--pgd-digits 1000] [--costs-only]

FGSM runs on all 10,000 test digits, the 20-step attack on the first --pgd-digits (it costs 20
times as much). The trained rows are lenet5 with the default recipe and --epochs epochs, seed 0,
plain and with each --adversarial ε, in one run, so their training times compare.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from lenet.checkpoints import load_model
from lenet.config import TrainConfig
from lenet.data import Split, load_mnist
from lenet.files import CHECKPOINT_DIR
from lenet.inside.adversarial import CURVE_DIGITS, accuracy_curve, attack, hardened
from lenet.train import train

SHOWN = (0.0, 0.1, 0.2, 0.3)


def median_s(call, rounds: int) -> float:
    """The median seconds of `rounds` calls, after one to warm up."""
    call()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def page_costs(test: Split, rounds: int = 5) -> None:
    """What the pages wait for, per shipped model: one FGSM, one targeted attack (50 ε at once, for
    the smallest flip), and the ε curve on CURVE_DIGITS (once per checkpoint, then cached)."""
    x, head = test.x[:1], test.head(CURVE_DIGITS)
    print("\n| model | FGSM on a drawing, ms | targeted (50 ε), ms | ε curve, 1,000 digits, s |\n|---|---|---|---|")
    for name in ("lenet5", "lenet5-classic", "mlp"):
        model = load_model(CHECKPOINT_DIR / f"{name}.pt")[0]
        fgsm = median_s(lambda m=model: attack(m, x, 0.1), rounds)
        aimed = median_s(lambda m=model: attack(m, x, 0.3, target=3), rounds)
        curve = median_s(lambda m=model: accuracy_curve(m, head.x, head.y), rounds)
        print(f"| {name} | {1000 * fgsm:.0f} | {1000 * aimed:.0f} | {curve:.2f} |")


def row(name: str, model: torch.nn.Module, test: Split, pgd_digits: int, extra: str = "") -> str:
    fgsm = accuracy_curve(model.eval(), test.x, test.y, SHOWN, "fgsm")
    head = test.head(pgd_digits)
    pgd = accuracy_curve(model, head.x, head.y, SHOWN[1:], "pgd")
    cells = [f"{a:.1%}" for a in fgsm] + [f"{a:.1%}" for a in pgd]
    return f"| {name} | " + " | ".join(cells) + f" |{extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--pgd-digits", type=int, default=1000)
    parser.add_argument("--adversarial", default="0.1,0.2", help="the ε of each hardened run, comma-separated")
    parser.add_argument("--costs-only", action="store_true", help="only what the pages wait for")
    args = parser.parse_args()
    data = load_mnist()
    page_costs(data.test)
    if args.costs_only:
        return
    header = " | ".join(f"FGSM ε={e:g}" for e in SHOWN) + " | " + " | ".join(f"20-step ε={e:g}" for e in SHOWN[1:])
    print(f"| model | {header} |\n|---" + "|---" * (2 * len(SHOWN) - 1) + "|")
    for name in ("lenet5", "lenet5-classic", "mlp"):
        print(row(f"shipped {name}", load_model(CHECKPOINT_DIR / f"{name}.pt")[0], data.test, args.pgd_digits))
    print(f"\nlenet5, default recipe, {args.epochs} epochs, seed 0 (training s in the last column):\n")
    print(f"| run | {header} | training s |\n|---" + "|---" * (2 * len(SHOWN)) + "|")
    for eps in (0.0, *map(float, args.adversarial.split(","))):
        start = time.perf_counter()
        config = TrainConfig(epochs=args.epochs, adversarial=eps)
        result = train(config, data, hardened(None, config))
        seconds = time.perf_counter() - start
        name = "plain" if eps == 0 else f"adversarial ε={eps:g}"
        print(row(name, result.model, data.test, args.pgd_digits, f" {seconds:.0f} |"))


if __name__ == "__main__":
    main()
