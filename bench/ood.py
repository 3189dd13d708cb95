"""Does it know it doesn't know? The digit-like flag's rates on MNIST and on three generated sets of
non-digits, for each shipped model, and the same rates for each single score, to show why the flag
uses three. These are 28×28 tensors; bench/pictures.py has the same flag on pictures, as files.

    python -m bench.ood [--noise 1000] [--strokes 500]

Rates: "passed" is the share of MNIST test digits the flag lets through (all 10,000; the even half
is where the threshold is set, so the odd half is reported too); "caught" is the share of each
non-digit set it flags. Each single score gets its own threshold on the same even half (95% pass).
Also the time a calibration takes (once per model per process) and one judgement.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lenet.checkpoints import load_model
from lenet.data import load_mnist, normalise
from lenet.files import CHECKPOINT_DIR
from lenet.inside import nondigits
from lenet.inside.embedding import last_linear, penultimate
from lenet.inside.ood import PASS, _inked, _measures, calibration_for, held_out, off_scores

MODELS = ("lenet5", "lenet5-classic", "mlp")


def sets(noise: int, strokes: int) -> dict[str, torch.Tensor]:
    made = {"uniform noise": nondigits.noise(noise), "letters A-Z, Aileron": nondigits.letters("aileron"),
            "letters A-Z, DejaVu Serif": nondigits.letters("dejavu-serif"),
            "random strokes": nondigits.strokes(strokes)}
    return {name: normalise(torch.from_numpy(np.ascontiguousarray(images))) for name, images in made.items()}


def single_scores(model, cal, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Higher = more digit-like, for each single score: top probability, energy, Mahalanobis."""
    sure, near = _measures(model, cal.means, cal.precision, x)
    with torch.no_grad():
        logits = last_linear(model)[1](penultimate(model, x))
    return {"top probability": sure, "energy": torch.logsumexp(logits.double(), 1), "Mahalanobis": near,
            "ink on paper": _inked(x)}


def flagged_single(model, cal, even: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    thresholds = {k: torch.quantile(v, 1 - PASS) for k, v in single_scores(model, cal, even).items()}
    return {k: float((v < thresholds[k]).double().mean()) for k, v in single_scores(model, cal, x).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--noise", type=int, default=1000)
    parser.add_argument("--strokes", type=int, default=500)
    args = parser.parse_args()
    data = load_mnist()
    even, odd = held_out(data)
    others = sets(args.noise, args.strokes)
    print("| model | MNIST test passed (odd half) | " + " | ".join(f"{k} caught" for k in others)
          + " | calibration s | one judgement ms |")
    print("|---" * (4 + len(others)) + "|")
    ablation = []
    for name in MODELS:
        model = load_model(CHECKPOINT_DIR / f"{name}.pt")[0]
        start = time.perf_counter()
        cal = calibration_for(model, data)
        calibration_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(20):
            off_scores(cal, model, data.test.x[:1])
        one_ms = (time.perf_counter() - start) / 20 * 1000
        passed = [float((off_scores(cal, model, s) < cal.threshold).double().mean()) for s in (data.test.x, odd.x)]
        caught = [float((off_scores(cal, model, x) >= cal.threshold).double().mean()) for x in others.values()]
        print(f"| {name} | {passed[0]:.1%} ({passed[1]:.1%}) | " + " | ".join(f"{c:.1%}" for c in caught)
              + f" | {calibration_s:.2f} | {one_ms:.1f} |")
        for kind, x in {"MNIST test (flagged)": data.test.x, **others}.items():
            ablation.append((name, kind, flagged_single(model, cal, even.x, x),
                             float((off_scores(cal, model, x) >= cal.threshold).double().mean())))
    print("\nFlagged by each single score, and by the flag, each at 95% of the even half passing:\n")
    print("| model | set | top probability | energy | Mahalanobis | ink on paper | the flag |")
    print("|---" * 7 + "|")
    for name, kind, single, both in ablation:
        print(f"| {name} | {kind} | " + " | ".join(f"{v:.1%}" for v in single.values()) + f" | {both:.1%} |")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
