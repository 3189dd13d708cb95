"""Plotly figures and small HTML tables for the pages. Plain functions of plain data: no Streamlit in here.

Made to be read on a projector: 15 px text, every digit labelled on every digit axis, epoch
axes in whole epochs, and loss axes that start at 0. Every text comes from the session's
language (the `t` each function takes). Made to be read by everyone: colours from palettes
that stay apart for the common colour-vision deficiencies (Okabe and Ito's; Paul Tol's for
ten digits), and nothing told by colour alone: lines differ in dash and marker too, every
bar and cell carries its number, and the predicted digit's bar is hatched as well as coloured.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from lenet.classroom.protocol import Probe
from lenet.train import BatchReport
from ui.i18n import Text

FONT = dict(size=15)
CONFUSION_HEIGHT = 460  # px: a confusion matrix's square cells, and the Class page's grid beside it
LAYOUT = dict(margin=dict(l=10, r=10, t=50, b=10), height=320, font=FONT, title_font=dict(size=18),
              legend=dict(orientation="h", y=-0.28))
DIGITS = dict(tickmode="array", tickvals=list(range(10)), ticktext=[str(d) for d in range(10)])  # all ten, always
# Okabe & Ito (2008), "Color Universal Design": told apart with any common colour-vision deficiency.
BLUE, VERMILLION, GREEN, ORANGE, SKY, PURPLE, YELLOW, BLACK = (
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
LINES = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, BLACK)  # for lines side by side, in this order
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star", "pentagon", "hexagon")
# Paul Tol's "muted" scheme and its pale grey: ten colours for the ten digits (with a marker each too).
TEN = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499", "#BBBBBB")
METRICS = ("eval_accuracy", "eval_loss", "train_accuracy", "train_loss")  # what Compare runs can offer


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average, bias-corrected so the first points are not dragged to 0."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out


def _thin(*series: list, points: int = 200) -> list[list]:
    """At most `points` of each series, so a long run's chart stays cheap to send and redraw."""
    step = max(1, -(-len(series[0]) // points))
    return [s[::step] for s in series]


def epoch_step(epochs: int) -> int:
    """The step between epoch ticks: every epoch, or every 2, 5, 10... so that at most 10 are
    labelled. (Plotly measures every tick label on every redraw: a 30-epoch run's 31 labels
    made each live redraw of the curves 2× slower.)"""
    return next(step for step in (1, 2, 5, 10, 20, 50, 100, 1000) if epochs <= 10 * step)


def _epoch_axis(t: Text, fig: go.Figure, epochs: tuple[int, int]) -> go.Figure:
    """x in epochs, ticks on whole epochs: (first, last) epoch of the run shown."""
    step = epoch_step(epochs[1] - epochs[0] + 1)
    return fig.update_xaxes(title=t("chart.epoch"), range=[epochs[0] - 1, epochs[1]], tick0=0, dtick=step)


def _fixed_axes(fig: go.Figure, left: int = 70, bottom: int = 55) -> go.Figure:
    """Margins set here rather than measured: with automargin, plotly measures every tick label
    and title again on each redraw, a sixth of the live view's time in the browser."""
    fig.update_xaxes(automargin=False).update_yaxes(automargin=False)
    return fig.update_layout(margin=LAYOUT["margin"] | dict(l=left, b=bottom))


def loss_curve(t: Text, batches: list[BatchReport], probes: list[Probe], history: list[dict],
               epochs: tuple[int, int], split: str = "test") -> go.Figure:
    """Batch loss (raw and smoothed), the live loss on the test slice, and each epoch's full test loss."""
    x, y = [b.epoch - 1 + b.batch / b.batches for b in batches], [b.loss for b in batches]
    x, y, smoothed = _thin(x, y, smooth(y))
    on = t("words." + split)
    fig = go.Figure([
        go.Scatter(x=x, y=y, name=t("chart.batch_loss"), mode="lines", line=dict(width=1, color=SKY)),
        go.Scatter(x=x, y=smoothed, name=t("chart.batch_loss_smoothed"), mode="lines",
                   line=dict(width=2.5, color=BLUE)),
        go.Scatter(x=[p.progress for p in probes], y=[p.eval_loss for p in probes], name=t("chart.loss_live", split=on),
                   mode="lines", line=dict(width=2.5, color=VERMILLION, dash="dash")),
        go.Scatter(x=[e["epoch"] for e in history], y=[e["eval_loss"] for e in history],
                   name=t("chart.loss_epoch", split=on), mode="markers",
                   marker=dict(size=12, color=VERMILLION, symbol="diamond")),
    ])
    fig.update_yaxes(title=t("chart.loss"), rangemode="tozero")
    return _fixed_axes(_epoch_axis(t, fig.update_layout(title=t("chart.loss_title"), **LAYOUT), epochs))


def accuracy_curve(t: Text, batches: list[BatchReport], probes: list[Probe], history: list[dict],
                   epochs: tuple[int, int], split: str = "test") -> go.Figure:
    """Running train accuracy, the live test-slice accuracy about once a second, and each
    epoch's accuracy on the whole test set: the curve a class watches climb."""
    on = t("words." + split)
    fig = go.Figure([
        go.Scatter(x=[b.epoch - 1 + b.batch / b.batches for b in batches], y=[100 * b.accuracy for b in batches],
                   name=t("chart.train_so_far"), mode="lines", line=dict(width=2, color=BLUE)),
        go.Scatter(x=[p.progress for p in probes], y=[100 * p.eval_accuracy for p in probes],
                   name=t("chart.accuracy_live", split=on), mode="lines+markers",
                   line=dict(width=2.5, color=VERMILLION, dash="dash"), marker=dict(size=6)),
        go.Scatter(x=[e["epoch"] for e in history], y=[100 * e["eval_accuracy"] for e in history],
                   name=t("chart.accuracy_epoch", split=on), mode="markers",
                   marker=dict(size=12, color=VERMILLION, symbol="diamond")),
    ])
    fig.update_yaxes(title=t("chart.percent"), range=[0, 101])
    return _fixed_axes(_epoch_axis(t, fig.update_layout(title=t("chart.accuracy_title"), **LAYOUT), epochs))


def compare(t: Text, histories: dict[str, list[dict]], metric: str) -> go.Figure:
    """One line per run: `metric` (one of METRICS) against epoch, each run its own colour, dash
    and marker. A run that held out a validation split reports on it instead of the test set,
    and its name says so."""
    fig = go.Figure()
    scale = 100 if metric.endswith("accuracy") else 1
    for i, (name, history) in enumerate(histories.items()):
        points = [(e["epoch"], e[metric]) for e in history if metric in e]
        shown = t("chart.on_val", name=name) if metric.startswith("eval") and split_of(history) == "val" else name
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[scale * p[1] for p in points], name=shown,
                                 mode="lines+markers", line=dict(color=LINES[i % len(LINES)], dash=DASHES[i % 6]),
                                 marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=8)))
    label = t("chart.metric." + metric) + (" (%)" if metric.endswith("accuracy") else "")
    fig.update_yaxes(title=label, rangemode="tozero" if metric.endswith("loss") else "normal")
    last = max((e["epoch"] for h in histories.values() for e in h), default=1)
    fig.update_layout(title=label, **LAYOUT)
    return fig.update_xaxes(title=t("chart.epoch"), range=[0.5, last + 0.5], tick0=0, dtick=epoch_step(last))


def metrics_in(histories: dict[str, list[dict]]) -> list[str]:
    """The METRICS that at least one of these runs recorded."""
    return [m for m in METRICS if any(m in e for h in histories.values() for e in h)]


def confusion(t: Text, matrix: np.ndarray, title: str | None = None) -> go.Figure:
    """Counts, true digit down, predicted across, every cell numbered. A plain Heatmap rather than
    px.imshow: the same picture in a third of the time, and the live view redraws it every second."""
    fig = go.Figure(go.Heatmap(z=matrix, x=list(range(10)), y=list(range(10)), colorscale="Blues",
                               texttemplate="%{z}", colorbar=dict(title=t("chart.images")),
                               hovertemplate=t("chart.confusion_hover") + "<extra></extra>"))
    fig.update_xaxes(title=t("chart.predicted"), side="bottom", **DIGITS)
    fig.update_yaxes(title=t("chart.true"), autorange="reversed", scaleanchor="x", **DIGITS)
    fig.update_layout(title=title or t("chart.confusion_title"), **(LAYOUT | {"height": CONFUSION_HEIGHT}))
    return _fixed_axes(fig, left=80, bottom=60)


def clickable_confusion(t: Text, matrix: np.ndarray, title: str) -> go.Figure:
    """The confusion matrix with a cell that can be clicked: a transparent square marker over each
    cell (a heatmap's cells can't be selected), carrying (true, predicted) as its customdata and
    the cell's hover text."""
    fig = confusion(t, matrix, title)
    fig.update_traces(hoverinfo="skip", hovertemplate=None, showscale=False)  # each cell prints its count
    cells = [(true, said) for true in range(10) for said in range(10)]  # point i is cell (i // 10, i % 10)
    fig.add_trace(go.Scatter(x=[c[1] for c in cells], y=[c[0] for c in cells], mode="markers",
                             marker=dict(symbol="square", size=26, color="rgba(0,0,0,0.01)"),
                             customdata=[[*c, int(matrix[c])] for c in cells], showlegend=False,
                             hovertemplate=t("chart.confusion_hover").replace("%{z}", "%{customdata[2]}")
                             + "<extra></extra>"))
    return fig.update_layout(clickmode="event+select", dragmode=False)


def per_class(t: Text, accuracy: list[float], title: str | None = None) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(range(10)), y=[100 * a for a in accuracy], marker_color=BLUE,
                           text=[f"{100 * a:.1f}" for a in accuracy], textposition="outside"))
    low = max(0.0, min(100 * min(accuracy) - 5, 90)) if accuracy else 0
    fig.update_xaxes(title=t("chart.digit"), **DIGITS).update_yaxes(title=t("chart.accuracy_percent"),
                                                                   range=[low, 102])
    return _fixed_axes(fig.update_layout(title=title or t("chart.per_digit_title"), **LAYOUT))


def probabilities(t: Text, probs: list[float]) -> go.Figure:
    """The ten probabilities, each bar with its number; the answer's bar is vermillion and hatched."""
    best = int(np.argmax(probs)) if max(probs) > 0 else -1  # all zero: nothing drawn yet, nothing to highlight
    fig = go.Figure(go.Bar(x=list(range(10)), y=[100 * p for p in probs],
                           marker=dict(color=[VERMILLION if d == best else BLUE for d in range(10)],
                                       pattern=dict(shape=["/" if d == best else "" for d in range(10)],
                                                    fgcolor="white")),
                           text=[_percent(p) for p in probs], textposition="outside", cliponaxis=False))
    fig.update_xaxes(title=t("chart.digit"), **DIGITS).update_yaxes(title=t("chart.percent"), range=[0, 115])
    return fig.update_layout(title=t("chart.probabilities_title"), **(LAYOUT | {"height": 280}))


def _percent(p: float) -> str:
    """A probability as the bar's label: whole percents, "<1%" for a sliver (0.5% would round
    to "0%", which is for none at all)."""
    whole = round(100 * p)
    return f"{whole}%" if whole >= 1 or p == 0 else "<1%"


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


def pixel_values(t: Text, image: np.ndarray) -> go.Figure:
    """The 28×28 input as numbers: every pixel's 0-255 value written on it."""
    fig = px.imshow(image, text_auto=True, color_continuous_scale="gray", aspect="equal")
    fig.update_traces(textfont_size=8)
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    return fig.update_layout(title=t("chart.pixels_title"), coloraxis_showscale=False,
                             margin=dict(l=5, r=5, t=50, b=5), height=640, font=FONT)


def split_of(epochs: list[dict]) -> str:
    """"test", or "val" for a run that held out a validation split."""
    return epochs[0].get("eval_split", "test") if epochs else "test"


# ---- seeing inside: the stepper, attribution overlays, the digit map ---------------------------

def numbers(grids: list[tuple[str, np.ndarray]], fmt: str = "+.2f") -> str:
    """Small grids side by side as an HTML table each, every cell with its number written on it:
    a window of the input, the kernel, their products. Red is positive, blue negative, white
    zero, each grid scaled to its own largest magnitude; the sign is written too, so nothing is
    told by colour alone. HTML, not a chart: the stepper redraws these on every step, and three
    plotly heatmaps of 25 labelled cells took the browser longer than the rest of the view."""
    tables = "".join(f"<figure><figcaption>{html.escape(title)}</figcaption><table>{_rows(grid, fmt)}</table></figure>"
                     for title, grid in grids)
    return f"<style>{NUMBERS_CSS}</style><div class='lenet-numbers'>{tables}</div>"


NUMBERS_CSS = """
.lenet-numbers {display: flex; flex-wrap: wrap; gap: 1.5rem; font-size: 15px; font-variant-numeric: tabular-nums}
.lenet-numbers figure {margin: 0}
.lenet-numbers figcaption {font-weight: 600; margin-bottom: .3rem}
.lenet-numbers table {border-collapse: collapse}
.lenet-numbers td {width: 3.6em; height: 2.2em; text-align: center; border: 1px solid #ddd; padding: 0}
"""


def _rows(grid: np.ndarray, fmt: str) -> str:
    bound = float(np.abs(grid).max()) or 1.0
    return "".join("<tr>" + "".join(_cell(float(v), bound, fmt) for v in row) + "</tr>" for row in grid)


def _cell(value: float, bound: float, fmt: str) -> str:
    """One number on its colour: red for positive, blue for negative, paler towards zero."""
    t = min(1.0, abs(value) / bound)
    r, g, b = (255, 255 - round(155 * t), 255 - round(170 * t)) if value > 0 else \
              (255 - round(190 * t), 255 - round(120 * t), 255)
    ink = "#fff" if t > 0.7 else "#111"
    return f"<td style='background:rgb({r},{g},{b});color:{ink}'>{value:{fmt}}</td>"


def pickable_map(t: Text, values: np.ndarray, title: str, pick: tuple[int, int], size: int = 340) -> go.Figure:
    """A feature map (H, W) drawn as square markers rather than a heatmap, so that clicking a cell
    selects it (plotly sends no clicks from heatmaps), with the picked cell outlined."""
    h, w = values.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    cell = (size - 60) / max(h, w)
    fig = go.Figure(go.Scatter(
        x=cols, y=rows, mode="markers", marker=dict(symbol="square", size=cell * 0.98, color=values.ravel(),
                                                    colorscale="gray", line=dict(width=0)),
        hovertemplate=t("chart.cell_hover") + "<extra></extra>"))
    r, c = pick
    fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=dict(color=VERMILLION, width=3))
    fig.update_xaxes(range=[-0.5, w - 0.5], showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(range=[h - 0.5, -0.5], showticklabels=False, showgrid=False, zeroline=False)
    return fig.update_layout(title=title, width=size, height=size, margin=dict(l=10, r=10, t=45, b=10), font=FONT,
                             clickmode="event+select", dragmode=False, plot_bgcolor="white")


def window_on(values: np.ndarray, top: int, left: int, size: int, cell: int = 10) -> np.ndarray:
    """A map (H, W) as a grey picture, scaled to its own range, with a vermillion square around
    the window an output number reads: (H·cell, W·cell, 3) uint8. A picture, not a chart: the
    stepper redraws it on every step, and an image is the quickest thing a browser shows."""
    lo, hi = float(values.min()), float(values.max())
    grey = np.zeros_like(values, dtype=np.float32) if hi - lo < 1e-12 else (values - lo) / (hi - lo)
    out = np.repeat(np.kron((grey * 255).astype(np.uint8), np.ones((cell, cell), np.uint8))[..., None], 3, axis=2)
    y0, x0, y1, x1 = top * cell, left * cell, (top + size) * cell - 1, (left + size) * cell - 1
    edge = np.array(_rgb(VERMILLION), np.uint8)
    for i in range(2):  # a 2 px outline, inside the window
        out[y0 + i, x0:x1 + 1] = out[y1 - i, x0:x1 + 1] = edge
        out[y0:y1 + 1, x0 + i] = out[y0:y1 + 1, x1 - i] = edge
    return out


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


# Plasma, sampled at 256 levels: dark blue-purple to yellow, evenly bright from step to step and
# readable with any common colour-vision deficiency (unlike red-to-yellow, which deuteranopes
# see as one colour).
_HEAT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(px.colors.sequential.Plasma)),
                            [_rgb(c)[k] for c in px.colors.sequential.Plasma]) for k in range(3)], axis=1)


def heat_overlay(image: np.ndarray, heat: np.ndarray, size: int = 196) -> np.ndarray:
    """A 28×28 uint8 drawing in grey with `heat` (28×28, ≥ 0) laid over it in plasma colours:
    the stronger the heat, the brighter and the more it covers. Returns (size, size, 3) uint8,
    square pixels."""
    peak = float(heat.max())
    h = np.clip(heat / peak, 0, 1) if peak > 0 else np.zeros_like(heat, dtype=float)
    grey = np.repeat(image[..., None].astype(float) * 0.6, 3, axis=2)
    hot = _HEAT[np.round(h * 255).astype(int)]  # (28, 28, 3)
    mixed = grey * (1 - h[..., None]) + hot * h[..., None]
    k = max(1, size // image.shape[0])
    return np.kron(mixed.astype(np.uint8), np.ones((k, k, 1), np.uint8))


def digit_map(t: Text, points: np.ndarray, labels: np.ndarray, indices: np.ndarray, predicted: np.ndarray,
              explained: tuple[float, float] | None, star: tuple[float, float] | None = None,
              star_digit: int | None = None) -> go.Figure:
    """The test digits as dots in the plane of the two principal components (`explained`: each
    one's share of the variance) or on a t-SNE map (explained None: axes without units), each
    digit with its own colour and marker and its number written at the middle of its cloud, and
    the user's drawing as a star. SVG, not WebGL: a browser without a GPU (headless, or a school
    laptop) spends a second or more creating a WebGL context, longer than drawing 2,000 SVG dots."""
    fig = go.Figure()
    for d in range(10):
        mine = labels == d
        fig.add_trace(go.Scatter(
            x=points[mine, 0].astype(np.float32), y=points[mine, 1].astype(np.float32), mode="markers", name=str(d),
            marker=dict(size=6, color=TEN[d], symbol=SYMBOLS[d], opacity=0.75),
            customdata=np.stack([indices[mine], predicted[mine]], 1),
            hovertemplate=t("chart.map_hover", digit=d) + "<extra></extra>"))
        if mine.any():  # the digit's number at its cloud's median: readable without telling colours apart
            x, y = np.median(points[mine], axis=0)
            fig.add_annotation(x=float(x), y=float(y), text=f"<b>{d}</b>", showarrow=False, font=dict(size=22),
                               bgcolor="rgba(255,255,255,0.7)")
    if star is not None:
        fig.add_trace(go.Scatter(x=[star[0]], y=[star[1]], mode="markers+text", name=t("chart.your_drawing"),
                                 marker=dict(symbol="star", size=26, color=BLACK, line=dict(color="white", width=2)),
                                 text=[t("chart.you", digit=star_digit) if star_digit is not None else t("chart.you_")],
                                 textposition="top center", textfont=dict(size=16),
                                 hovertemplate=t("chart.your_drawing") + "<extra></extra>"))
    if explained is None:  # t-SNE: only neighbours mean something, so the axes carry no numbers
        fig.update_xaxes(title=t("chart.tsne1"), zeroline=False, showticklabels=False)
        fig.update_yaxes(title=t("chart.tsne2"), zeroline=False, showticklabels=False)
    else:
        fig.update_xaxes(title=t("chart.pc1", share=explained[0]), zeroline=False)
        fig.update_yaxes(title=t("chart.pc2", share=explained[1]), zeroline=False)
    return fig.update_layout(title=t("chart.map_title"),
                             **(LAYOUT | {"height": 560, "legend": dict(title=t("chart.digit"), orientation="v")}))
