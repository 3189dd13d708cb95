"""Plotly figures for the pages, and their palette. Plain functions of plain data: no Streamlit in here.

Made to be read on a projector: 15 px text, every digit labelled on every digit axis, epoch
axes in whole epochs, and loss axes that start at 0. Every text comes from the session's
language (the `t` each function takes). Made to be read by everyone: colours from palettes
that stay apart for the common colour-vision deficiencies (Okabe and Ito's; Paul Tol's for
ten digits), and nothing told by colour alone: lines differ in dash and marker too, every
bar and cell carries its number, and the predicted digit's bar is hatched as well as coloured.
"""
from __future__ import annotations

import functools

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from lenet.classroom.protocol import PROBE_SIZE, Probe
from lenet.train import BatchReport
from ui.common.i18n import Text

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
STILL = {"staticPlot": True}  # a chart drawn again every second or so is a still picture: no hover, half the time


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
        go.Scatter(x=[p.progress for p in probes], y=[p.eval_loss for p in probes],
                   name=t("chart.loss_live", split=on, n=PROBE_SIZE),
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
                   name=t("chart.accuracy_live", split=on, n=PROBE_SIZE), mode="lines+markers",
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
    # constrain="domain": square cells by shrinking the plot to the grid, so the digits sit beside it
    # (the default widened the range instead, and the labels sat far out from a grid in the middle)
    fig.update_xaxes(title=t("chart.predicted"), side="bottom", constrain="domain", **DIGITS)
    fig.update_yaxes(title=t("chart.true"), autorange="reversed", scaleanchor="x", constrain="domain", **DIGITS)
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
                           text=[f"{100 * a:.1f}" for a in accuracy], textposition="outside",
                           cliponaxis=False))  # the numbers above a full bar sit over the axis, not past 100%
    low = max(0.0, min(100 * min(accuracy) - 5, 90)) if accuracy else 0
    fig.update_xaxes(title=t("chart.digit"), **DIGITS).update_yaxes(title=t("chart.accuracy_percent"),
                                                                   range=[low, 100])
    return _fixed_axes(fig.update_layout(title=title or t("chart.per_digit_title"), **LAYOUT))


def probabilities(t: Text, probs: list[float]) -> go.Figure:
    """The ten probabilities, each bar with its number; the answer's bar is vermillion and hatched.

    Drawn on every stroke of every student: plotly checks each property of a figure built through
    graph objects (6 ms here; 7.6% of a class's server in a profile), so the chart is checked
    once per language (`_bars`), and each stroke's numbers go in unchecked (0.4 ms)."""
    best = int(np.argmax(probs)) if max(probs) > 0 else -1  # all zero: nothing drawn yet, nothing to highlight
    checked = _bars(t("chart.probabilities_title"), t("chart.digit"), t("chart.percent"))
    bar = checked["data"][0] | dict(
        y=[100 * p for p in probs], text=[_percent(p) for p in probs],
        marker=dict(color=[VERMILLION if d == best else BLUE for d in range(10)],
                    pattern=dict(shape=["/" if d == best else "" for d in range(10)], fgcolor="white")))
    return go.Figure(dict(data=[bar], layout=checked["layout"]), _validate=False)  # plotly copies what it is given


@functools.lru_cache(maxsize=8)  # a language each: three strings in, the same figure out
def _bars(title: str, digit: str, percent: str) -> dict:
    """The probabilities chart without its numbers, as plotly checked it: a plain dict, never changed."""
    fig = go.Figure(go.Bar(x=list(range(10)), y=[0.0] * 10, text=[""] * 10, textposition="outside", cliponaxis=False,
                           marker=dict(color=[BLUE] * 10, pattern=dict(shape=[""] * 10, fgcolor="white"))))
    fig.update_xaxes(title=digit, **DIGITS).update_yaxes(title=percent, range=[0, 115])
    return fig.update_layout(title=title, **(LAYOUT | {"height": 280})).to_dict()


def _percent(p: float) -> str:
    """A probability as the bar's label: whole percents, "<1%" for a sliver (0.5% would round
    to "0%", which is for none at all)."""
    whole = round(100 * p)
    return f"{whole}%" if whole >= 1 or p == 0 else "<1%"


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
        fig.add_trace(go.Scatter(x=[star[0]], y=[star[1]], mode="markers", name=t("chart.your_drawing"),
                                 marker=dict(symbol="star", size=26, color=BLACK, line=dict(color="white", width=2)),
                                 hovertemplate=t("chart.your_drawing") + "<extra></extra>"))
        # Its label on an arrow, up and to the right, over the clouds' numbers: a drawing of a 3 lands
        # in the 3s, and "you: 3" written on the star sat on the cloud's own "3".
        fig.add_annotation(x=float(star[0]), y=float(star[1]), ax=56, ay=-44, showarrow=True, arrowhead=2,
                           text=t("chart.you", digit=star_digit) if star_digit is not None else t("chart.you_"),
                           font=dict(size=16, color=BLACK), bgcolor="white", bordercolor=BLACK, borderpad=3)
    if explained is None:  # t-SNE: only neighbours mean something, so the axes carry no numbers
        fig.update_xaxes(title=t("chart.tsne1"), zeroline=False, showticklabels=False)
        fig.update_yaxes(title=t("chart.tsne2"), zeroline=False, showticklabels=False)
    else:
        fig.update_xaxes(title=t("chart.pc1", share=explained[0]), zeroline=False)
        fig.update_yaxes(title=t("chart.pc2", share=explained[1]), zeroline=False)
    return fig.update_layout(title=t("chart.map_title"),
                             **(LAYOUT | {"height": 560, "legend": dict(title=t("chart.digit"), orientation="v")}))
