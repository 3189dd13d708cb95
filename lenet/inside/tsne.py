"""The digits as a t-SNE map: each digit's neighbours in the penultimate layer stay its neighbours
on the page, so the ten classes come apart as islands.

PCA (embedding.py) keeps the two straight directions along which the features vary most, and on
lenet5 it piles six classes into one corner. t-SNE (van der Maaten & Hinton, 2008) gives up on
distances to keep neighbourhoods: it moves 2,000 dots until the digits that are close in the 84
numbers are close on the map. The price: the axes mean nothing, the gaps between islands mean
little, and the layout comes out of an optimisation, so it is seeded here to be the same every time.

openTSNE (Poličar, Stražar & Zupan, 2024) can add a point to a finished map without moving it.
`TSNEEmbedding.transform` does it: start the new point at the median of its nearest map
neighbours, then optimise it alone against the fixed map. `place_tsne` follows the same recipe
with the same settings, but without transform's first step, which re-centres the shared map in
place (`self -= ...`) on every call, and with the forces interpolated on a grid made once with
the map (FFT: ~20 ms a drawing, where Barnes-Hut, which makes the map, takes ~200).

Shared safely: a TsneMap serves every session of a class. Its openTSNE embedding is only read
when a drawing is placed, and never by two threads at once (TsneMap.lock; ~20 ms a drawing).
The model is read through `penultimate`, which never changes it. openTSNE and scikit-learn are
imported when the first map is made: together they take a second or more to import.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from torch import nn

from .embedding import knn_accuracy, penultimate, sample_features

__all__ = ["MapCache", "TsneMap", "place_tsne", "tsne_map"]

PERPLEXITY = 30  # openTSNE's default: about 90 neighbours decide where each digit goes
EARLY_ITER = 125  # early exaggeration (clusters form), half of openTSNE's 250: same 5-NN accuracy (bench/maps.py)
ITER = 250  # then the plain phase, half of openTSNE's 500: 2,000 digits settle by then
SEED = 0  # the PCA start of the layout: the same map every time
JOBS = 1  # one core: on the class's 2-core server the other stays free for the pages (see below)
REPORT_EVERY = 25  # iterations between two progress reports
PLACE = dict(perplexity=5, k=25, learning_rate=0.1, exaggeration=1.5, n_iter=250, momentum=0.8,
             max_grad_norm=0.25)  # TSNEEmbedding.transform's own defaults, for a new point against the fixed map
# Why one job: the app serves 30 students from one process on 2 cores, and training (its own,
# niced process) takes what is left. On a quiet machine two jobs make lenet5's map in 2.2-2.6 s
# instead of 3.4 s; with the other core busy they took 11.0 s against 4.9 (docs/performance.md,
# "The digit map"). A map is made once per checkpoint, and the pages must not wait behind it.


@dataclass(frozen=True, eq=False)
class TsneMap:
    points: np.ndarray  # (n, 2) float64, read-only: each digit's place, as drawn
    labels: np.ndarray  # (n,) int64, true digit
    indices: np.ndarray  # (n,) int64, where each digit sits in the images given (ascending)
    predicted: np.ndarray  # (n,) int64, the model's answer for each digit
    knn: float  # 5-NN accuracy on the map, held-out half (embedding.knn_accuracy)
    width: int  # D, the numbers of the penultimate layer
    embedding: Any  # openTSNE's TSNEEmbedding (n, 2): the fitted map and its neighbour index
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one placement at a time


def _fit(features: np.ndarray, progress: Callable[[float], None]) -> Any:
    """openTSNE's TSNE on features (n, D) float64 -> its TSNEEmbedding (n, 2), centred, with the
    interpolation grid that placing uses computed now, so placing never writes to it."""
    from openTSNE import TSNE  # a second or more to import (with scikit-learn): only when a map is made

    done = [0]

    def report(iteration: int, error: float, embedding: np.ndarray) -> bool:
        done[0] += REPORT_EVERY
        progress(min(1.0, done[0] / (EARLY_ITER + ITER)))
        return False  # go on

    tsne = TSNE(perplexity=PERPLEXITY, early_exaggeration_iter=EARLY_ITER, n_iter=ITER,
                neighbors="exact", negative_gradient_method="bh",  # exact and Barnes-Hut: the fast pair at n = 2,000
                n_jobs=JOBS, random_state=SEED, callbacks=report, callbacks_every_iters=REPORT_EVERY)
    embedding = tsne.fit(features)
    embedding.gradient_descent_params["callbacks"] = None  # placing a drawing inherits these: it reports nothing
    embedding.prepare_interpolation_grid()  # centres the map in place and sets its grid, once
    return embedding


def tsne_map(model: nn.Module, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
             n: int = 2000, seed: int = 0, progress: Callable[[float], None] | None = None) -> TsneMap:
    """Map n of the given digits by their penultimate features, with t-SNE (seconds, not ms).

    Args:
        images: uint8 (N, 28, 28), or already normalised float (N, 1, 28, 28).
        labels: (N,) digits 0..9.
        n: digits on the map, about n/10 per class (embedding.sample_features picks them, as for PCA).
        seed: which digits; the layout's own seed is SEED.
        progress: called with the share of the optimisation done, 0..1, every REPORT_EVERY iterations.
    """
    s = sample_features(model, images, labels, n, seed)
    embedding = _fit(s.features.double().numpy(), progress or (lambda share: None))
    points = np.array(embedding, dtype=np.float64)  # (n, 2), a copy the map is drawn from
    points.flags.writeable = False
    return TsneMap(points=points, labels=s.labels.numpy(), indices=s.indices.numpy(), predicted=s.predicted.numpy(),
                   knn=knn_accuracy(points, s.labels.numpy()), width=s.features.shape[1], embedding=embedding)


def place_tsne(model: nn.Module, tmap: TsneMap, x: torch.Tensor) -> tuple[float, float]:
    """Where one normalised drawing x (1, 1, 28, 28) lands on the finished map; the map doesn't move.

    transform's recipe, without its in-place re-centring: neighbours by perplexity 5 among the
    map's digits, a start at the median of its 25 nearest, then 250 steps against the fixed map,
    with FFT-interpolated forces on the grid made with the map."""
    features = penultimate(model, x).double().numpy()  # (1, D)
    settings = dict(PLACE)
    with tmap.lock:
        star = tmap.embedding.prepare_partial(features, initialization="median", k=settings.pop("k"),
                                              perplexity=settings.pop("perplexity"))
        star = star.optimize(inplace=True, propagate_exception=True, negative_gradient_method="fft", **settings)
    px, py = np.asarray(star, dtype=np.float64)[0].tolist()
    return px, py


T = TypeVar("T")


class _Pending:
    """One value being computed: how far along it is, and when it is done."""

    def __init__(self) -> None:
        self.share = 0.0  # of the work done, 0..1
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class MapCache(Generic[T]):
    """Values computed once per key and shared by every thread that asks (the sessions of a class).

    The first ask starts the work in a thread of its own, so a page rerun or a closed tab can't
    stop it halfway; every asker, the first included, waits for it and sees its progress. At
    most `size` values are kept, the least recently asked dropped first. A failed computation
    is forgotten, so the next ask tries again.
    """

    def __init__(self, size: int, poll_s: float = 0.1) -> None:
        self._size, self._poll_s = size, poll_s
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Pending] = OrderedDict()

    def ready(self, key: Hashable) -> bool:
        """Whether the value for key is computed (asking for it returns at once)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.done.is_set() and entry.error is None

    def get(self, key: Hashable, compute: Callable[[Callable[[float], None]], T],
            progress: Callable[[float], None] | None = None) -> T:
        """The value for key: compute(report) once, in its own thread; progress(share) while waiting."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Pending()
                threading.Thread(target=self._run, args=(key, entry, compute), daemon=True,
                                 name="map-cache").start()
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        while not entry.done.wait(self._poll_s):
            if progress is not None:
                progress(entry.share)
        if entry.error is not None:
            raise entry.error
        return entry.value

    def _run(self, key: Hashable, entry: _Pending, compute: Callable[[Callable[[float], None]], T]) -> None:
        def report(share: float) -> None:
            entry.share = share

        try:
            entry.value = compute(report)
        except BaseException as error:  # noqa: BLE001 -- handed to every asker, raised in their threads
            entry.error = error
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
        finally:
            entry.done.set()
