"""The digits as a map: a 2-D picture of what the model sees just before it decides.

The penultimate layer (the input of the last Linear: 84 numbers for the LeNets, 200 for the MLP)
is where the classes have been pulled apart. Two ways to flatten it to a page:
- PCA, here: the honest linear view. Two straight directions through the features, exact and
  deterministic, a few milliseconds in plain torch, and a drawing lands on the same axes with
  one matrix product. Being linear, it keeps only what varies most, so several classes can
  overlap in 2-D even when they are far apart in 84 (1, 2, 4, 5, 6 and 8 share a corner of
  lenet5's map).
- t-SNE, in tsne.py: neighbourhoods kept, distances given up. The classes come apart as islands,
  and openTSNE adds a drawing to the finished map without moving it (`TSNEEmbedding.transform`'s
  recipe), but it takes seconds, and its axes mean nothing.
`knn_accuracy` measures how well a map keeps the classes apart, the same way for both.

Like introspect.py, nothing here changes the model: no hooks, no mode switch, no moved weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import normalise
from .introspect import trace

__all__ = ["DigitMap", "Projection", "Sampled", "digit_map", "fit_projection", "halves", "knn_accuracy", "knn_predict",
           "last_linear", "penultimate", "place", "sample_features"]

CHUNK = 1000  # digits per pass: LeNet's conv1 maps of 1,000 digits are 19 MB
K = 5  # neighbours that vote in knn_accuracy: few enough to be local, enough to outvote one stray


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
    knn: float  # 5-NN accuracy on the map, held-out half (knn_accuracy): how far apart the classes are in 2-D


@dataclass(frozen=True, eq=False)
class Sampled:
    """The digits a map shows, and what the model makes of them (shared by PCA and t-SNE)."""
    indices: torch.Tensor  # (n,) int64, where each digit sits in the images given (ascending)
    labels: torch.Tensor  # (n,) int64, true digit
    features: torch.Tensor  # (n, D) float32, the penultimate layer
    predicted: torch.Tensor  # (n,) int64, the model's answer


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
    return Projection(mean=mean, components=components.contiguous(), explained=(share[0], share[1]))


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


def sample_features(model: nn.Module, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                    n: int, seed: int = 0) -> Sampled:
    """n of the given digits (about n/10 per class, fixed by seed), their penultimate features
    and the model's answers. images: uint8 (N, 28, 28) or normalised float (N, 1, 28, 28); labels (N,)."""
    labels = torch.as_tensor(labels).long()
    indices = _subset(labels, min(n, len(labels)), seed)  # (n,)
    features = penultimate(model, _inputs(images[indices.numpy()]))  # (n, D)
    with torch.no_grad():
        predicted = last_linear(model)[1](features.to(next(model.parameters()).device)).argmax(dim=1).cpu()
    return Sampled(indices=indices, labels=labels[indices], features=features, predicted=predicted)


def digit_map(model: nn.Module, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
              n: int = 3000, seed: int = 0) -> DigitMap:
    """Map n of the given digits (usually MNIST's test set) by their penultimate features, with PCA.

    Args:
        images: uint8 (N, 28, 28), or already normalised float (N, 1, 28, 28).
        labels: (N,) digits 0..9.
        n: digits on the map (all of them if N is smaller), about n/10 per class.
        seed: which digits; the same seed always gives the same map.
    """
    s = sample_features(model, images, labels, n, seed)
    projection = fit_projection(s.features)
    points = projection.project(s.features).numpy()  # (n, 2)
    return DigitMap(points=points, labels=s.labels.numpy(), indices=s.indices.numpy(), predicted=s.predicted.numpy(),
                    projection=projection, knn=knn_accuracy(points, s.labels.numpy()))


def place(model: nn.Module, projection: Projection, x: torch.Tensor) -> tuple[float, float]:
    """Where one normalised drawing x (1, 1, 28, 28) lands on the map made with `projection`."""
    px, py = projection.project(penultimate(model, x))[0].tolist()
    return px, py


def halves(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random half of range(n) and the rest, fixed by seed: (fit (n // 2,), held (n - n // 2,))."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    return order[:n // 2], order[n // 2:]


def knn_predict(known: np.ndarray, known_labels: np.ndarray, points: np.ndarray, k: int = K) -> np.ndarray:
    """Each point's class by a vote of its k nearest known points (Euclidean): known (F, 2),
    known_labels (F,), points (H, 2) -> (H,) int64. A tied vote goes to the smaller digit, as
    scikit-learn's KNeighborsClassifier does."""
    known_labels = torch.as_tensor(known_labels).long()
    dist = torch.cdist(torch.as_tensor(points, dtype=torch.float64), torch.as_tensor(known, dtype=torch.float64))
    nearest = dist.topk(k, dim=1, largest=False).indices  # (H, k)
    votes = F.one_hot(known_labels[nearest], int(known_labels.max()) + 1).sum(dim=1)  # (H, classes)
    return votes.argmax(dim=1).numpy()  # argmax takes the first of equal counts: the smaller digit


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = K, seed: int = 0) -> float:
    """How well a map keeps the classes apart, in its own 2-D: a k-nearest-neighbour vote fitted on
    a random half of the points (n, 2) (`halves`), scored on the other half. A map whose classes
    are islands scores near the model's own accuracy; one where they overlap, far less."""
    fit, held = halves(len(points), seed)
    return float((knn_predict(points[fit], labels[fit], points[held], k) == labels[held]).mean())
