"""Does it know it doesn't know? An off-distribution score for each input, and a digit-like flag.

A network trained on digits gives ten probabilities for anything: noise, a letter, a scribble. The
score here asks three questions of each input, and keeps the worst answer:

1. How sure is the model? Its top probability (the maximum softmax probability, Hendrycks and
   Gimpel 2017), ranked among held-out MNIST digits.
2. Does it look, inside, like a digit of the class it was given? The Mahalanobis distance (Lee et
   al. 2018) of the penultimate features (what the last Linear reads: 84 numbers for the LeNets) to
   the nearest class mean, with one covariance shared by the classes, ranked the same way.
3. Is it ink on paper? The share of grey pixels (neither paper nor ink, GREY), ranked the same
   way. A noise picture through to_mnist is a grey square; a digit is strokes on blank paper. The
   first two alone let a third of large noise pictures through lenet5-classic (docs/performance.md).

Each rank is a typicality: the share of held-out MNIST digits that score no better (0.3: less
typical than 70% of real digits). The score is 1 − the smallest of the three; the flag
`digit_like` is the score under a threshold set so that 95% of the held-out digits pass (`PASS`).

Why the first two: each alone misses a whole kind of input on some shipped model (docs/performance.md, "Does
it know"). On lenet5 the Mahalanobis distance catches only 28% of uniform-noise images, while the
top probability catches all of them; on lenet5-classic it is the other way round (52% against
99.9%). The energy score (Liu et al. 2020) did no better than the top probability on any of the three.

Held-out MNIST is the test set's even-numbered digits (the models never trained on them); the odd
ones are left to measure the flag on. The class means and the covariance come from the first
FIT_DIGITS training digits. Like introspect.py, nothing here changes the model.

A calibration is saved in each checkpoint as it is written (`for_checkpoint`, under the key
"calibration": plain tensors and a number), so the flag works with no MNIST on the machine
(`of_checkpoint`): Draw and `lenet predict` offline, from the first stroke.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import MEAN, STD, Mnist, Split
from ..predict import Prediction, answer
from ..preprocess import Preprocessed
from .embedding import last_linear, penultimate

__all__ = ["FIT_DIGITS", "PASS", "Calibration", "Verdict", "calibrate", "calibration_for", "for_checkpoint",
           "held_out", "judge", "of_checkpoint", "off_scores"]

FIT_DIGITS = 10_000  # training digits for the class means and covariance: more change the flag's rates by < 0.5 pt
PASS = 0.95  # the share of held-out MNIST digits the flag passes
RIDGE = 1e-6  # added to the covariance's diagonal: ReLU features have directions that never vary
GREY = (0.25, 0.75)  # a pixel between these (0..1) is neither paper nor ink


@dataclass(frozen=True, eq=False)
class Calibration:
    """What the score compares an input with, fitted once per model."""
    means: torch.Tensor  # (10, D) float64, the penultimate features' mean per class
    precision: torch.Tensor  # (D, D) float64, the inverse of the classes' shared covariance
    sure: torch.Tensor  # (M,) float64 ascending: held-out digits' top probabilities
    near: torch.Tensor  # (M,) float64 ascending: held-out digits' −(squared distance to the nearest class mean)
    threshold: float  # the score at or above which an input is not digit-like
    inked: torch.Tensor | None = None  # (M,) float64 ascending: held-out digits' −(share of grey pixels); None: a
    #                                    calibration made before this measure


@dataclass(frozen=True)
class Verdict:
    score: float  # 0..1, how far from MNIST's digits: 1 − the smaller typicality of the two tests
    digit_like: bool  # the score is below the calibrated threshold


def _measures(model: nn.Module, means: torch.Tensor, precision: torch.Tensor,
              x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(top probability, −squared Mahalanobis distance to the nearest class mean), each (B,) float64,
    for normalised inputs x (B, 1, 28, 28)."""
    return _measured(*_scores(model, x), means, precision)


def _scores(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The penultimate features (B, D) and the ten scores (B, 10) they give, on the CPU: one pass."""
    features = penultimate(model, x)  # (B, D)
    with torch.no_grad():
        return features, last_linear(model)[1](features.to(next(model.parameters()).device)).cpu()


def _measured(features: torch.Tensor, logits: torch.Tensor, means: torch.Tensor,
              precision: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    sure = F.softmax(logits.double(), dim=1).max(dim=1).values
    apart = features.double()[:, None, :] - means[None]  # (B, 10, D)
    distance = torch.einsum("bkd,de,bke->bk", apart, precision, apart)  # (B, 10)
    return sure, -distance.min(dim=1).values


def _inked(x: torch.Tensor) -> torch.Tensor:
    """−(the share of grey pixels), (B,) float64, of normalised inputs x (B, 1, 28, 28): 0 for clean ink on paper."""
    seen = x.double().reshape(len(x), -1) * STD + MEAN  # (B, 784) on the 0..1 scale
    return -((seen > GREY[0]) & (seen < GREY[1])).double().mean(dim=1)


def _as_pictures(x: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Digits x (B, 1, 28, 28) as they come back from a picture: enlarged 4× (a canvas or a photo),
    then shrunk again as to_mnist does, which greys their edges. The third measure's reference:
    a digit that went through a picture is still ink on paper. In chunks: 5,000 at once took 500 MB."""
    out = []
    for part in x.float().split(chunk):
        big = F.interpolate(part, scale_factor=4, mode="bilinear", align_corners=False)  # (b, 1, 112, 112)
        out.append(F.interpolate(big, size=(28, 28), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(out)


def _typicality(reference: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """The share (0..1) of reference values (M,), ascending, that are at most each of values (B,)."""
    return torch.searchsorted(reference, values.contiguous(), right=True).double() / len(reference)


def _score(references: list[torch.Tensor], measured: list[torch.Tensor]) -> torch.Tensor:
    """1 − the smallest typicality of the measures (each (B,)), against their held-out references (each (M,))."""
    typical = torch.stack([_typicality(ref, value) for ref, value in zip(references, measured, strict=True)])
    return 1 - typical.min(dim=0).values


def off_scores(cal: Calibration, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The off-distribution score (B,) float64, 0..1, of normalised inputs x (B, 1, 28, 28)."""
    return _off(cal, *_scores(model, x), x)


def _off(cal: Calibration, features: torch.Tensor, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    sure, near = _measured(features, logits, cal.means, cal.precision)
    if cal.inked is None:  # a calibration made before the third measure
        return _score([cal.sure, cal.near], [sure, near])
    return _score([cal.sure, cal.near, cal.inked], [sure, near, _inked(x)])


def calibrate(model: nn.Module, fit: Split, held: Split) -> Calibration:
    """Class means and covariance from `fit` (training digits), ranks and threshold from `held`."""
    features = penultimate(model, fit.x).double()  # (N, D)
    means = torch.stack([features[fit.y == c].mean(dim=0) for c in range(10)])  # (10, D)
    centred = features - means[fit.y]
    covariance = centred.T @ centred / len(features)  # (D, D), shared by the classes
    precision = torch.linalg.inv(covariance + RIDGE * torch.eye(len(covariance), dtype=torch.float64))
    measured = [*_measures(model, means, precision, held.x), _inked(_as_pictures(held.x))]  # (M,) each
    references = [m.sort().values for m in measured]
    threshold = float(torch.quantile(_score(references, measured), PASS, interpolation="higher"))
    return Calibration(means=means, precision=precision, sure=references[0], near=references[1], inked=references[2],
                       threshold=threshold + 1e-12)  # `PASS` of them lie below


def held_out(data: Mnist) -> tuple[Split, Split]:
    """MNIST test digits: (the even-numbered, to calibrate on; the odd-numbered, to measure on)."""
    return Split(x=data.test.x[0::2], y=data.test.y[0::2]), Split(x=data.test.x[1::2], y=data.test.y[1::2])


def calibration_for(model: nn.Module, data: Mnist, fit_digits: int = FIT_DIGITS) -> Calibration:
    """The model's calibration on MNIST: the first `fit_digits` training digits, the even test digits."""
    return calibrate(model, data.train.head(fit_digits), held_out(data)[0])


def judge(cal: Calibration, model: nn.Module, x: torch.Tensor) -> list[Verdict]:
    """A verdict for each normalised input x (B, 1, 28, 28), or one (1, 28, 28) or (28, 28)."""
    scores = off_scores(cal, model, x.reshape(-1, 1, 28, 28))
    return [Verdict(score=float(s), digit_like=bool(s < cal.threshold)) for s in scores]


def read_and_judge(cal: Calibration, model: nn.Module, steps: Preprocessed) -> tuple[Prediction, Verdict]:
    """classify() and judge() of one drawing from one pass through the model: its penultimate
    features give the answer (through its last Linear) and the distance both. A stroke ran the
    model twice, once for each: a profile of a class drawing put 9% of the server in each."""
    x = steps.tensor.reshape(1, 1, 28, 28)
    features, logits = _scores(model, x)  # (1, D), (1, 10)
    score = float(_off(cal, features, logits, x)[0])
    return answer(logits, steps), Verdict(score=score, digit_like=score < cal.threshold)


def for_checkpoint(model: nn.Module, data: Mnist) -> dict[str, Any]:
    """The calibration of a model being saved, as a checkpoint keeps it: tensors and a number,
    which torch.load(weights_only=True) reads back. `model` is the caller's own (a training run's):
    it is measured in eval mode and left in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        cal = calibration_for(model, data)
    finally:
        model.train(was_training)
    return {"means": cal.means, "precision": cal.precision, "sure": cal.sure, "near": cal.near, "inked": cal.inked,
            "threshold": cal.threshold}


def of_checkpoint(ckpt: dict[str, Any]) -> Calibration | None:
    """The calibration a checkpoint holds; None if it has none, or one whose parts don't fit together."""
    saved = ckpt.get("calibration")
    if not isinstance(saved, dict):
        return None
    parts = [saved.get(k) for k in ("means", "precision", "sure", "near")]
    if not all(isinstance(p, torch.Tensor) and p.dtype == torch.float64 for p in parts) or \
            not isinstance(saved.get("threshold"), float):
        return None
    means, precision, sure, near = parts
    inked = saved.get("inked")  # absent from a calibration made before it was measured
    d = means.shape[-1]
    if means.shape != (10, d) or precision.shape != (d, d) or sure.ndim != 1 or sure.shape != near.shape:
        return None
    if inked is not None and not (isinstance(inked, torch.Tensor) and inked.dtype == torch.float64
                                  and inked.shape == sure.shape):
        return None
    return Calibration(means=means, precision=precision, sure=sure, near=near, inked=inked,
                       threshold=saved["threshold"])
