"""The digits as a map: a 2-D projection of what the model sees just before it decides.

The penultimate layer (the input of the last Linear: 84 numbers for the LeNets, 200 for the MLP)
is where the classes have been pulled apart. PCA flattens it to two axes. Why PCA and not
t-SNE or UMAP: PCA is linear and exact (no perplexity to tune, no random layout), takes a few
milliseconds in plain torch, adds no dependency (scikit-learn and umap-learn aren't installed),
and, above all, a new drawing lands on the same axes with one matrix product. t-SNE cannot place
a new point without refitting the whole map, which would move every other digit.

Like introspect.py, nothing here changes the model: no hooks, no mode switch, no moved weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data import normalise
from .introspect import trace

__all__ = ["DigitMap", "Projection", "digit_map", "fit_projection", "last_linear", "penultimate", "place"]

CHUNK = 1000  # digits per pass: LeNet's conv1 maps of 1,000 digits are 19 MB


@dataclass(frozen=True, eq=False)
class Projection:
    mean: torch.Tensor  # (D,) float64, the centre of the fitted features
    components: torch.Tensor  # (2, D) float64, orthonormal rows: the map's x and y axes
    explained: tuple[float, float]  # share of the total variance along each axis, largest first

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Features (B, D) -> map coordinates (B, 2), float64."""
        return (features.double() - self.mean) @ self.components.T


@dataclass(frozen=True, eq=False)
class DigitMap:
    points: np.ndarray  # (n, 2) float64, map coordinates of each digit
    labels: np.ndarray  # (n,) int64, true digit
    indices: np.ndarray  # (n,) int64, where each digit sits in the images given (ascending)
    predicted: np.ndarray  # (n,) int64, the model's answer for each digit
    projection: Projection  # the axes, so a drawing can be placed on the same map


def last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """The dotted name and module of the model's last Linear layer (the one giving the 10 scores)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)][-1]


def penultimate(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the last Linear layer receives, for normalised digits x (B, 1, 28, 28): (B, D) on the CPU.

    Runs the model's own layers one by one (introspect.trace), in chunks to bound memory.
    Raises ValueError for a model in training mode: dropout or batch-norm statistics would make
    the map depend on the run, and switching the shared model to eval is not ours to do.
    """
    if model.training:
        raise ValueError("the model is in training mode; embed a model in eval mode (load_model gives one)")
    name, _ = last_linear(model)
    chunks = [trace(model, chunk, until=name)[-1].input.cpu() for chunk in x.split(CHUNK)]  # each (b, D)
    return torch.cat(chunks)


def fit_projection(features: torch.Tensor) -> Projection:
    """PCA of features (N, D) to two axes, in float64, deterministic.

    SVD of the centred matrix: its right singular vectors are the covariance's eigenvectors and
    its squared singular values their variances. An eigenvector's sign is arbitrary, so each axis
    is flipped to make its largest-magnitude loading positive: the map never mirrors between runs.
    """
    x = features.double()
    mean = x.mean(dim=0)  # (D,)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)  # s (K,), vh (K, D), K = min(N, D)
    components = vh[:2]  # (2, D)
    peak = components.abs().argmax(dim=1, keepdim=True)  # (2, 1)
    components = components * components.gather(1, peak).sign()
    variance = s**2
    share = (variance[:2] / variance.sum()).tolist()
    return Projection(mean, components.contiguous(), (share[0], share[1]))


def _subset(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """n indices (ascending), about n/10 per class, picked at random but fixed by seed.

    Deals the shuffled digits round-robin by class (the first of each class, then the second
    of each, ...), so the first n are balanced and a short class is made up from the others.
    """
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))  # (N,)
    shuffled = labels[order]
    rank = torch.zeros_like(order)  # (N,) rank of each shuffled digit within its own class
    for digit in shuffled.unique():
        mine = shuffled == digit
        rank[mine] = torch.arange(int(mine.sum()))
    key = rank * len(order) + torch.arange(len(order))  # sort by rank, then by shuffled position
    return order[key.argsort()[:n]].sort().values


def _inputs(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> normalised (N, 1, 28, 28); already-normalised float input passes through."""
    images = torch.as_tensor(images)
    return normalise(images) if images.dtype == torch.uint8 else images.float().reshape(-1, 1, 28, 28)


def digit_map(model: nn.Module, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
              n: int = 3000, seed: int = 0) -> DigitMap:
    """Map n of the given digits (usually MNIST's test set) by their penultimate features.

    Args:
        images: uint8 (N, 28, 28), or already normalised float (N, 1, 28, 28).
        labels: (N,) digits 0..9.
        n: digits on the map (all of them if N is smaller), about n/10 per class.
        seed: which digits; the same seed always gives the same map.
    """
    labels = torch.as_tensor(labels).long()
    indices = _subset(labels, min(n, len(labels)), seed)  # (n,)
    features = penultimate(model, _inputs(images[indices.numpy()]))  # (n, D)
    projection = fit_projection(features)
    with torch.no_grad():
        predicted = last_linear(model)[1](features.to(next(model.parameters()).device)).argmax(dim=1).cpu()
    return DigitMap(projection.project(features).numpy(), labels[indices].numpy(), indices.numpy(),
                    predicted.numpy(), projection)


def place(model: nn.Module, projection: Projection, x: torch.Tensor) -> tuple[float, float]:
    """Where one normalised drawing x (1, 1, 28, 28) lands on the map made with `projection`."""
    px, py = projection.project(penultimate(model, x))[0].tolist()
    return px, py
