"""Explain's digit map of 2,000 test digits, PCA beside t-SNE, on each shipped checkpoint: the first
computation, placing a new drawing on the finished map, building the chart, and how well each
map keeps the classes apart (5-NN accuracy, held-out half; and in the D numbers themselves).

    python -m bench.maps [--rounds 3] [--drawings 20] [--jobs 1 2]

Each first computation runs `--rounds` times from scratch (nothing is cached between them) and
the table gives the median. Placing: the median over `--drawings` different digits (MNIST
training digits, never on the map). The chart: figures.digit_map plus plotly's JSON, what the
server does before the browser draws. `--jobs` times lenet5's t-SNE with each openTSNE thread
count, then with openTSNE's own iteration counts (twice the app's).
Target: placing plus the chart under 1 s, once the map is made.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import plotly.io
import torch

from lenet.checkpoints import load_model
from lenet.data import load_mnist
from lenet.files import CHECKPOINT_DIR
from lenet.inside import tsne
from lenet.inside.embedding import digit_map, knn_accuracy, place, sample_features
from ui.common import figures
from ui.common.i18n import Text

N = 2000  # ui/explain/views.py's MAP_DIGITS
TARGET_S = 1.0  # placing plus the chart, once the map is made
MODELS = ("lenet5", "mlp", "lenet5-classic")


def seconds(call: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def median_of(call: Callable[[], object], rounds: int) -> tuple[float, object]:
    """The median time of `rounds` calls, and the last call's result."""
    runs = [seconds(call) for _ in range(rounds)]
    return statistics.median(s for s, _ in runs), runs[-1][1]


def row(name: str, test, drawings: torch.Tensor, rounds: int) -> dict[str, float]:
    model, _ = load_model(CHECKPOINT_DIR / f"{name}.pt")
    pca_s, pca = median_of(lambda: digit_map(model, test.x, test.y, n=N), rounds)
    tsne_s, tmap = median_of(lambda: tsne.tsne_map(model, test.x, test.y, n=N), rounds)
    pca_place = [seconds(lambda x=x: place(model, pca.projection, x))[0] for x in drawings.split(1)]
    tsne_place = [seconds(lambda x=x: tsne.place_tsne(model, tmap, x))[0] for x in drawings.split(1)]
    star = tsne.place_tsne(model, tmap, drawings[:1])
    t = Text("en")
    chart = [seconds(lambda: plotly.io.to_json(figures.digit_map(t, tmap.points, tmap.labels, tmap.indices,
                                                                 tmap.predicted, None, star, 7), validate=False))[0]
             for _ in range(5)]
    features = sample_features(model, test.x, test.y, N).features.numpy()  # (N, D): the same digits, unflattened
    return {"pca_s": pca_s, "tsne_s": tsne_s, "pca_place_ms": 1000 * statistics.median(pca_place),
            "tsne_place_ms": 1000 * statistics.median(tsne_place), "chart_ms": 1000 * statistics.median(chart),
            "pca_knn": pca.knn, "tsne_knn": tmap.knn, "knn": knn_accuracy(features, tmap.labels)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drawings", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    data = load_mnist()
    test, drawings = data.test, data.train.x[:args.drawings]  # drawings (d, 1, 28, 28), normalised
    rows = {name: row(name, test, drawings, args.rounds) for name in MODELS}
    print(f"\n{N:,} test digits, {torch.get_num_threads()} torch threads, openTSNE n_jobs={tsne.JOBS}, "
          f"median of {args.rounds} first computations and {args.drawings} placements\n")
    print("| checkpoint | first map, PCA | first map, t-SNE | place a drawing, PCA | place a drawing, t-SNE "
          "| t-SNE chart | 5-NN accuracy, PCA | t-SNE | the features themselves |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['pca_s']:.2f} s | {r['tsne_s']:.1f} s | {r['pca_place_ms']:.1f} ms "
              f"| {r['tsne_place_ms']:.0f} ms | {r['chart_ms']:.0f} ms | {r['pca_knn']:.1%} | {r['tsne_knn']:.1%} "
              f"| {r['knn']:.1%} |")
    worst = max(r["tsne_place_ms"] + r["chart_ms"] for r in rows.values()) / 1000
    print(f"\nplacing + chart, slowest model: {worst:.2f} s (target < {TARGET_S:g} s: "
          f"{'met' if worst < TARGET_S else 'MISSED'})")
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    for jobs in args.jobs:  # the first t-SNE map of lenet5 with each thread count, in turn
        tsne.JOBS = jobs
        took, tmap = median_of(lambda: tsne.tsne_map(model, test.x, test.y, n=N), args.rounds)
        print(f"lenet5 t-SNE, n_jobs={jobs}: {took:.1f} s, 5-NN accuracy {tmap.knn:.1%}")
    tsne.JOBS, iterations = 1, (tsne.EARLY_ITER, tsne.ITER)
    tsne.EARLY_ITER, tsne.ITER = 250, 500  # openTSNE's own defaults, against the halves used
    took, tmap = median_of(lambda: tsne.tsne_map(model, test.x, test.y, n=N), args.rounds)
    print(f"lenet5 t-SNE, openTSNE's 250 + 500 iterations (the app: {iterations[0]} + {iterations[1]}), n_jobs=1: "
          f"{took:.1f} s, 5-NN accuracy {tmap.knn:.1%}")


if __name__ == "__main__":
    main()
