"""Plotly figures for the pages. Plain functions of plain data: no Streamlit in here."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from lenet.train import BatchReport

LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=300, legend=dict(orientation="h", y=-0.25))


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average, bias-corrected so the first points are not dragged to 0."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out


def batch_loss(batches: list[BatchReport], points: int = 200) -> go.Figure:
    """Loss of the reported batches, raw and smoothed, against epochs (fractional). Smoothing
    sees every batch; at most `points` are drawn, so the chart stays cheap to send and redraw."""
    x = [b.epoch - 1 + b.batch / b.batches for b in batches]
    y = [b.loss for b in batches]
    smoothed = smooth(y)
    step = max(1, -(-len(x) // points))
    x, y, smoothed = x[::step], y[::step], smoothed[::step]
    fig = go.Figure([
        go.Scatter(x=x, y=y, name="batch loss", mode="lines", line=dict(width=1, color="rgba(99,110,250,0.35)")),
        go.Scatter(x=x, y=smoothed, name="smoothed", mode="lines", line=dict(width=2.5, color="rgb(99,110,250)")),
    ])
    return fig.update_layout(title="Batch loss", xaxis_title="epoch", yaxis_title="loss", **LAYOUT)


def epoch_accuracy(epochs: list[dict]) -> go.Figure:
    split = split_of(epochs)
    x = [e["epoch"] for e in epochs]
    fig = go.Figure([
        go.Scatter(x=x, y=[100 * e["train_accuracy"] for e in epochs], name="train", mode="lines+markers"),
        go.Scatter(x=x, y=[100 * e["eval_accuracy"] for e in epochs], name=split, mode="lines+markers"),
    ])
    return fig.update_layout(title="Accuracy per epoch", xaxis_title="epoch", yaxis_title="%", **LAYOUT)


def epoch_loss(epochs: list[dict]) -> go.Figure:
    split = split_of(epochs)
    x = [e["epoch"] for e in epochs]
    fig = go.Figure([go.Scatter(x=x, y=[e["eval_loss"] for e in epochs], name=f"{split} loss",
                                mode="lines+markers", line=dict(color="rgb(239,85,59)"))])
    return fig.update_layout(title=f"{split.capitalize()} loss per epoch", xaxis_title="epoch", yaxis_title="loss",
                             **LAYOUT)


METRICS = {"eval_accuracy": "test accuracy", "eval_loss": "test loss", "train_accuracy": "train accuracy",
           "train_loss": "train loss"}  # what Compare runs offers, and what each is called


def compare(histories: dict[str, list[dict]], metric: str) -> go.Figure:
    """One line per run: `metric` (a key of METRICS) against epoch. A run that held out a
    validation split reports on it instead of the test set, and its name says so."""
    fig = go.Figure()
    scale = 100 if metric.endswith("accuracy") else 1
    for name, history in histories.items():
        points = [(e["epoch"], e[metric]) for e in history if metric in e]
        shown = f"{name} (val)" if metric.startswith("eval") and split_of(history) == "val" else name
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[scale * p[1] for p in points], name=shown,
                                 mode="lines+markers"))
    label = METRICS[metric] + (" (%)" if metric.endswith("accuracy") else "")
    return fig.update_layout(title=label.capitalize(), xaxis_title="epoch", yaxis_title=label, **LAYOUT)


def confusion(matrix: np.ndarray) -> go.Figure:
    fig = px.imshow(matrix, text_auto=True, color_continuous_scale="Blues",
                    labels=dict(x="predicted", y="true", color="images"),
                    x=[str(d) for d in range(10)], y=[str(d) for d in range(10)])
    return fig.update_layout(title="Confusion matrix", **(LAYOUT | {"height": 420}))


def per_class(accuracy: list[float]) -> go.Figure:
    fig = px.bar(x=[str(d) for d in range(10)], y=[100 * a for a in accuracy], labels=dict(x="digit", y="accuracy (%)"),
                 text=[f"{100 * a:.1f}" for a in accuracy])
    low = max(0.0, min(100 * min(accuracy) - 2, 90)) if accuracy else 0
    return fig.update_layout(title="Accuracy per digit", yaxis_range=[low, 100], **LAYOUT)


def probabilities(probs: list[float]) -> go.Figure:
    best = int(np.argmax(probs)) if max(probs) > 0 else -1  # all zero: nothing drawn yet, nothing to highlight
    colors = ["rgb(239,85,59)" if d == best else "rgb(99,110,250)" for d in range(10)]
    fig = go.Figure(go.Bar(x=[str(d) for d in range(10)], y=[100 * p for p in probs], marker_color=colors,
                           text=[f"{100 * p:.0f}%" if p >= 0.01 else "" for p in probs], textposition="outside"))
    return fig.update_layout(title="Probability of each digit", yaxis_range=[0, 110], yaxis_title="%",
                             **(LAYOUT | {"height": 260}))


def mosaic(stack: np.ndarray, columns: int = 8, cell: int = 84, gap: int = 4) -> np.ndarray:
    """A grid of 2-D maps (N, H, W) as one uint8 picture: each map scaled to its own 0..255
    range and blown up to `cell` px with square pixels, on a white background.
    (One image instead of N plotly panels: the Explain page stays quick.)"""
    n, h, w = stack.shape
    columns = min(columns, n)
    rows = -(-n // columns)
    k = max(1, cell // max(h, w))
    out = np.full((rows * (h * k + gap) - gap, columns * (w * k + gap) - gap), 255, np.uint8)
    for i, m in enumerate(stack):
        lo, hi = float(m.min()), float(m.max())
        scaled = np.zeros_like(m, dtype=np.float32) if hi - lo < 1e-12 else (m - lo) / (hi - lo)
        tile = np.kron((scaled * 255).astype(np.uint8), np.ones((k, k), np.uint8))
        r, c = divmod(i, columns)
        out[r * (h * k + gap):r * (h * k + gap) + h * k, c * (w * k + gap):c * (w * k + gap) + w * k] = tile
    return out


def pixel_values(image: np.ndarray) -> go.Figure:
    """The 28×28 input as numbers: every pixel's 0-255 value written on it."""
    fig = px.imshow(image, text_auto=True, color_continuous_scale="gray", aspect="equal")
    fig.update_traces(textfont_size=7)
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    return fig.update_layout(title="The 28×28 input as numbers (0 = paper, 255 = ink)", coloraxis_showscale=False,
                             margin=dict(l=5, r=5, t=40, b=5), height=620)


def split_of(epochs: list[dict]) -> str:
    """"test", or "val" for a run that held out a validation split."""
    return epochs[0].get("eval_split", "test") if epochs else "test"
