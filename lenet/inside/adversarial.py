"""Fooling the network: a small, deliberate change to the pixels that changes the answer.

- `fgsm`: the fast gradient sign method (Goodfellow et al. 2015). One step of size ε along the sign
  of the loss's gradient with respect to the pixels: every pixel moves by exactly ±ε (or stops at 0 or 1).
- `targeted`: the basic iterative method (Kurakin et al. 2017), i.e. PGD without a random start, made
  targeted: many small steps that lower the loss of the chosen digit, each projected back into the
  ε-box around the original, so that no pixel ever moves by more than ε.
- `accuracy_curve`: accuracy against ε on a fixed set of test digits.

ε is in pixel units on the 0..1 scale, before normalisation, and attacked images are clipped to
[0, 1]: the convention of PyTorch's FGSM tutorial, so the figures compare with it. Inputs and
outputs are normalised tensors (N, 1, 28, 28), as the model reads them.

Why not torchattacks: its Attack calls model.eval() or model.train() on the model it is given, and one
loaded model serves every session of the app and the trainer, whose mode is not ours to switch. The
attacks are also the lesson, and each is a few lines. tests/inside/test_adversarial.py checks them against
attacks written there another way.

Nothing here changes the model it is given, which one loaded model serves every session and the
trainer with: each attack runs on its own copy, its weights frozen (`_own`), and takes
torch.autograd.grad with respect to its own copy of the pixels only. The model must already be in
eval mode. (`harden` is the exception: it is the training loop's, on the loop's own model, given to
the loop by the `Hardened` hook.)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig
from ..data import MEAN, STD
from ..train import EpochReport, Hook, Progress

__all__ = ["ATTACKS", "CURVE_DIGITS", "EPSILONS", "FLIP_GRID", "Attacked", "Hardened", "accuracy_curve", "attack",
           "fgsm", "from_pixels", "harden", "hardened", "smallest_flip", "targeted", "to_pixels"]

EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)  # the curve's ε, as in the PyTorch FGSM tutorial
CURVE_DIGITS = 1000  # the app's curve: the first 1,000 MNIST test digits, the same for every model
STEPS = 20  # the iterative attack's steps; more change its answers by well under a point at these ε
FLIP_GRID = tuple(round(0.01 * i, 2) for i in range(1, 51))  # ε tried for the smallest flip: 0.01 .. 0.50
ATTACKS = ("fgsm", "pgd")  # the CLI's --attack: one step, or STEPS steps (both untargeted)
CHUNK = 500  # digits per pass: a LeNet's backward over 500 digits needs about 60 MB


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Normalised model input -> pixels on the 0..1 scale, the same shape."""
    return x * STD + MEAN


def from_pixels(p: torch.Tensor) -> torch.Tensor:
    """Pixels on the 0..1 scale -> the normalised input the model reads, the same shape."""
    return (p - MEAN) / STD


def _check(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if model.training:  # switching it here would switch it for every session that shares it
        raise ValueError("attacks need a model in eval mode: call .eval() on your own copy first")
    if x.dim() != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"attacks take normalised digits (N, 1, 28, 28), got {tuple(x.shape)}")
    weights = next(model.parameters())
    return x.detach().to(weights.device, weights.dtype)  # float32 as a rule; a float64 copy gets float64 digits


def _own(model: nn.Module) -> nn.Module:
    """An attack's own copy of the model, its weights frozen: the backward runs through the copy,
    never through the model every session reads (copying a LeNet takes a few milliseconds).
    A model that is already such a copy is used as it is."""
    if not any(p.requires_grad for p in model.parameters()):
        return model
    return copy.deepcopy(model).requires_grad_(False)


def _gradient(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """∂ (summed cross-entropy for `labels`) / ∂ pixels, for pixels (N, 1, 28, 28): (N, 1, 28, 28).

    Summed, not averaged, so each digit's gradient is its own and doesn't shrink with the batch."""
    mine = pixels.detach().clone().requires_grad_(True)  # a leaf of our own: the only thing differentiated
    with torch.enable_grad():
        loss = F.cross_entropy(model(from_pixels(mine)), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, mine)
    return grad


def _eps_column(eps: float | torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    """One ε per digit, shaped (N, 1, 1, 1) to broadcast over its pixels."""
    return torch.as_tensor(eps, dtype=torch.float32, device=device).expand(n).reshape(n, 1, 1, 1)


def fgsm(model: nn.Module, x: torch.Tensor, eps: float | torch.Tensor,
         labels: torch.Tensor | None = None) -> torch.Tensor:
    """Untargeted FGSM: each pixel moves by ε in the direction that raises the loss of `labels`.

    Args:
        x: normalised digits (N, 1, 28, 28).
        eps: one ε for all, or one per digit (N,), in 0..1 pixel units.
        labels: (N,) the answers to move away from; the model's own answers if None.
    Returns:
        The attacked digits, normalised, (N, 1, 28, 28), their pixels clipped to [0, 1].
    """
    x, model = _check(model, x), _own(model)
    if labels is None:
        with torch.no_grad():
            labels = model(x).argmax(1)
    pixels = to_pixels(x)
    grad = _gradient(model, pixels, labels.to(x.device))
    step = _eps_column(eps, len(x), x.device) * grad.sign()
    return from_pixels((pixels + step).clamp(0, 1))


def targeted(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, eps: float | torch.Tensor,
             steps: int = STEPS, untargeted_labels: torch.Tensor | None = None) -> torch.Tensor:
    """The iterative attack: `steps` steps of size 2.5·ε/steps (Madry et al.'s choice), each
    projected back into the box [original − ε, original + ε] and into [0, 1].

    Targeted (the default) steps down the loss of `target`: "make it read 8". Given
    `untargeted_labels` instead, it steps up their loss, as FGSM does, for the CLI's --attack pgd.
    Args and Returns as `fgsm`; `target` is one digit for all or one per digit (N,).
    """
    x, model = _check(model, x), _own(model)
    n = len(x)
    eps = _eps_column(eps, n, x.device)
    if untargeted_labels is None:
        labels, sign = torch.as_tensor(target, device=x.device).long().expand(n), -1.0
    else:
        labels, sign = untargeted_labels.to(x.device), 1.0
    original = to_pixels(x)
    pixels = original.clone()
    for _ in range(steps):
        grad = _gradient(model, pixels, labels)
        pixels = pixels + sign * (2.5 * eps / steps) * grad.sign()
        pixels = torch.min(torch.max(pixels, original - eps), original + eps).clamp(0, 1)
    return from_pixels(pixels)


def harden(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Adversarial training's batch (Goodfellow et al. 2015): x (B, 1, 28, 28) with its first half
    replaced by FGSM examples made against `model` with labels y. For the training loop only: the
    model is the loop's own, in training mode, and only its input gradient is taken."""
    half = len(x) // 2
    pixels = to_pixels(x[:half].detach())
    moved = (pixels + eps * _gradient(model, pixels, y[:half]).sign()).clamp(0, 1)
    return torch.cat([from_pixels(moved), x[half:]])


class Hardened(Hook):
    """Adversarial training as a hook: every batch the loop learns from is `harden`ed by ε, and
    everything else is the wrapped hook's (printing, saving, the app's live charts)."""

    def __init__(self, inner: Hook, eps: float) -> None:
        self.inner, self.eps = inner, eps

    def before_batch(self, progress: Progress) -> bool:
        return self.inner.before_batch(progress)

    def batch(self, progress: Progress, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return harden(progress.model, self.inner.batch(progress, x, y), y, self.eps)

    def after_batch(self, progress: Progress) -> None:
        self.inner.after_batch(progress)

    def after_epoch(self, progress: Progress, report: EpochReport) -> None:
        self.inner.after_epoch(progress, report)


def hardened(hook: Hook | None, cfg: TrainConfig) -> Hook | None:
    """The hook to train `cfg` with: `hook` itself, or, with cfg.adversarial > 0, `hook` hardened by it."""
    return Hardened(hook or Hook(), cfg.adversarial) if cfg.adversarial else hook


def _on_grid(model: nn.Module, x: torch.Tensor, target: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The targeted attack on one digit x (1, 1, 28, 28) at every ε of FLIP_GRID, as one batch:
    (attacked (50, 1, 28, 28), whether each reads `target` (50,) bool on the CPU)."""
    grid = torch.tensor(FLIP_GRID)
    attacked = targeted(model, x.expand(len(grid), -1, -1, -1), target, grid, steps)
    with torch.no_grad():
        return attacked, (model(attacked).argmax(1) == target).cpu()


def _first(flipped: torch.Tensor) -> float | None:
    """The smallest ε of FLIP_GRID whose attack reads the target (flipped: (50,) bool); None if none."""
    return FLIP_GRID[int(flipped.int().argmax())] if flipped.any() else None


def smallest_flip(model: nn.Module, x: torch.Tensor, target: int, steps: int = STEPS) -> float | None:
    """The smallest ε of FLIP_GRID (0.01 steps) at which the targeted attack makes one digit
    x (1, 1, 28, 28) read `target`; None if even 0.5 doesn't."""
    return _first(_on_grid(_own(model), _check(model, x.reshape(1, 1, 28, 28)), target, steps)[1])


@dataclass(frozen=True)
class Attacked:
    """One digit before and after an attack, as the pages show it."""
    original: torch.Tensor  # (28, 28) pixels 0..1
    attacked: torch.Tensor  # (28, 28) pixels 0..1
    eps: float
    before: list[float]  # the ten probabilities before
    after: list[float]  # and after
    target: int | None  # the digit aimed for; None for the untargeted FGSM
    smallest: float | None = None  # the targeted attack's smallest flipping ε (smallest_flip); None if none

    @property
    def perturbation(self) -> torch.Tensor:
        """attacked − original, (28, 28), each value within ±ε."""
        return self.attacked - self.original


def _targeted_within(model: nn.Module, x: torch.Tensor, target: int, eps: float) -> tuple[torch.Tensor, float | None]:
    """The targeted attack within ε for the pages, and the smallest flipping ε, from one batch.

    A sign-step attack is not monotone in ε: twenty steps at 0.5 can wander off where steps at
    0.35 arrived. But any change within 0.35 is also within 0.5, so at ε the page shows the
    attack of the smallest grid ε ≤ ε that reads the target, if one does: a student who moves
    the slider past the smallest ε sees the flip stay flipped."""
    attacked, flipped = _on_grid(model, x, target, STEPS)  # (50, 1, 28, 28), (50,)
    within = [i for i, e in enumerate(FLIP_GRID) if e <= eps + 1e-9]
    if not within:  # ε below the grid's first step
        return targeted(model, x, target, eps), None
    reached = [i for i in within if flipped[i]]
    shown = reached[0] if reached else within[-1]  # the first that flips, or the attack at ε itself
    return attacked[shown][None], _first(flipped)


def attack(model: nn.Module, x: torch.Tensor, eps: float, target: int | None = None) -> Attacked:
    """FGSM (target None) or the targeted attack (with its smallest flipping ε) on one normalised
    digit x (1, 1, 28, 28)."""
    x, model = _check(model, x.reshape(1, 1, 28, 28)), _own(model)
    smallest = None
    if target is None:
        moved = fgsm(model, x, eps)
    else:
        moved, smallest = _targeted_within(model, x, target, eps)
    with torch.no_grad():
        probs = F.softmax(model(torch.cat([x, moved])), dim=1).cpu()  # (2, 10)
    return Attacked(original=to_pixels(x)[0, 0].cpu(), attacked=to_pixels(moved)[0, 0].cpu(), eps=eps,
                    before=probs[0].tolist(), after=probs[1].tolist(), target=target, smallest=smallest)


def accuracy_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilons: tuple[float, ...] = EPSILONS,
                   kind: str = "fgsm") -> list[float]:
    """Accuracy (0..1) on digits x (N, 1, 28, 28), labels y (N,), after an untargeted attack of each ε.

    As in PyTorch's tutorial, a digit counts as right only if the model reads it right both before
    and after the attack, and the attack moves away from the true label. So ε = 0 gives the plain
    accuracy, and an attack can never make a wrong answer count as right.
    """
    if kind not in ATTACKS:
        raise ValueError(f"unknown attack {kind!r}: choose one of {', '.join(ATTACKS)}")
    right = torch.zeros(len(epsilons), dtype=torch.float64)  # counts: exact fractions below
    model = _own(model)
    for xb, yb in zip(x.split(CHUNK), y.split(CHUNK), strict=True):
        xb = _check(model, xb)
        yb = yb.to(xb.device)
        with torch.no_grad():
            before = model(xb).argmax(1) == yb  # (b,)
        for i, eps in enumerate(epsilons):
            if eps == 0:  # no attack: exactly the plain accuracy, with no round trip through pixels
                right[i] += float(before.sum())
                continue
            moved = fgsm(model, xb, eps, yb) if kind == "fgsm" else targeted(model, xb, 0, eps, untargeted_labels=yb)
            with torch.no_grad():
                right[i] += float((before & (model(moved).argmax(1) == yb)).sum())
    return (right / len(y)).tolist()
