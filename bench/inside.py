"""How long the looks inside a model take on the server, for one drawing: the Draw page's "why this
answer" (occlusion, gradient, robustness strip, naive and MNIST-style corner case) and Explain's
digit map of 3,000 test digits.

    python -m bench.inside [--rounds 5]

Each computation runs once to warm up, then `--rounds` times; the table gives the best and the
median, in ms, on the shipped lenet5. Targets: why this answer under 1 s in all; the digit map
under 5 s. (The browser's own time for these views is bench/browser.py's.)
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from lenet.checkpoints import load_model
from lenet.data import load_mnist, normalise, pixels, sample_digits
from lenet.files import CHECKPOINT_DIR
from lenet.inside.attribution import corner_case, grad_cam, occlusion, robustness, saliency
from lenet.inside.embedding import digit_map

TARGETS_S = {"why this answer": 1.0, "digit map, 3,000 digits": 5.0}


def times(call: Callable[[], object], rounds: int) -> list[float]:
    call()  # warm-up: first-touch allocations, the OpenMP pool
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    image = sample_digits()[0][0]  # (28, 28) uint8: a 7
    x = normalise(torch.from_numpy(image[None]))  # (1, 1, 28, 28)
    test = load_mnist().test
    parts = {"occlusion": lambda: occlusion(model, x), "saliency": lambda: saliency(model, x),
             "robustness strip": lambda: robustness(model, image), "corner case": lambda: corner_case(model, image),
             "grad-cam (not on the page)": lambda: grad_cam(model, x)}
    rows = {name: times(call, args.rounds) for name, call in parts.items()}
    rows["why this answer"] = [sum(rows[p][i] for p in ("occlusion", "saliency", "robustness strip", "corner case"))
                               for i in range(args.rounds)]
    rows["digit map, 3,000 digits"] = times(lambda: digit_map(model, pixels(test.x), test.y.numpy(), n=3000),
                                            args.rounds)
    print(f"\nshipped lenet5, {torch.get_num_threads()} threads, {args.rounds} rounds\n")
    print("| computation | best ms | median ms | target |\n|---|---|---|---|")
    for name, seconds in rows.items():
        target = TARGETS_S.get(name)
        verdict = "" if target is None else f"< {target:g} s: {'met' if min(seconds) < target else 'MISSED'}"
        print(f"| {name} | {1000 * min(seconds):,.0f} | {1000 * statistics.median(seconds):,.0f} | {verdict} |")


if __name__ == "__main__":
    main()
