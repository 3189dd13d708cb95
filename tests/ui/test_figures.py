"""The figures the pages draw (ui/figures.py), built from real numbers: axes a projector can read."""
from __future__ import annotations

import itertools

import numpy as np
import plotly.colors
import pytest

from lenet.classroom.protocol import Probe
from lenet.train import BatchReport
from ui.common import figures, images
from ui.common.i18n import Text


def test_digit_axes_label_all_ten_and_loss_never_goes_below_zero():
    t = Text("en")
    fig = figures.per_class(t, [0.99] * 10)
    assert list(fig.layout.xaxis.tickvals) == list(range(10))
    assert fig.layout.yaxis.range[1] == 100 and fig.data[0].cliponaxis is False  # failed at 95003f1: ran to 102
    fig = figures.confusion(t, np.eye(10, dtype=int) * 5)
    assert list(fig.layout.xaxis.tickvals) == list(range(10)) == list(fig.layout.yaxis.tickvals)
    assert fig.layout.xaxis.constrain == fig.layout.yaxis.constrain == "domain"  # labels beside the grid
    fig = figures.loss_curve(t, [], [], [{"epoch": 1, "eval_loss": 0.1, "eval_accuracy": 0.9}], (1, 3))
    assert fig.layout.yaxis.rangemode == "tozero" and fig.layout.xaxis.dtick == 1
    assert [figures.epoch_step(n) for n in (1, 10, 11, 30, 100)] == [1, 1, 2, 5, 10]  # whole epochs, at most 10 labels
    assert figures.metrics_in({"a": [{"epoch": 1, "eval_accuracy": 0.9}]}) == ["eval_accuracy"]


def test_charts_build_from_real_results():
    assert figures.smooth([1.0, 1.0, 1.0]) == pytest.approx([1.0, 1.0, 1.0])
    fig = figures.probabilities(Text("en"), [0.05] * 9 + [0.55])
    assert list(fig.data[0].y)[-1] == pytest.approx(55)
    grid = images.mosaic(np.arange(6 * 28 * 28, dtype=np.float32).reshape(6, 28, 28), columns=3, cell=56, gap=4)
    assert grid.shape == (2 * 56 + 4, 3 * 56 + 2 * 4)
    assert grid[:56, :56].min() == 0 and grid[:56, :56].max() == 255  # each map uses the full grey range


def test_a_probabilities_chart_changed_by_its_page_leaves_the_next_stroke_s_chart_as_it_was():
    """The chart is checked by plotly once per language and shared by every session's strokes."""
    fig = figures.probabilities(Text("en"), [0.05] * 9 + [0.55])
    fig.update_layout(title="changed").update_xaxes(tickvals=[1]).data[0].marker.pattern.shape = ["x"] * 10
    fig.layout.template.layout.font.size = 99
    again = figures.probabilities(Text("en"), [0.55] + [0.05] * 9)
    assert again.layout.title.text == "Probability of each digit" and list(again.layout.xaxis.tickvals) == [*range(10)]
    assert list(again.data[0].marker.pattern.shape) == ["/"] + [""] * 9
    assert again.layout.template.layout.font.size is None
    assert list(again.data[0].y) == pytest.approx([55] + [5] * 9) and again.data[0].text[0] == "55%"
    assert figures.probabilities(Text("zh"), [0.1] * 10).layout.title.text == "每个数字的概率"


MACHADO = {  # severity 1.0, from the paper's table
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


APART = 10.0  # ΔE*ab two lines on one chart keep between them, whatever the eye


T = Text("en")


def linear(hex_colour: str) -> np.ndarray:
    srgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(rgb: np.ndarray) -> np.ndarray:
    """Linear sRGB (D65) to CIELAB."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen(hex_colour: str, vision: str | None) -> np.ndarray:
    rgb = linear(hex_colour)
    if vision is not None:
        rgb = np.clip(np.array(MACHADO[vision]) @ rgb, 0, 1)
    return lab(rgb)


def closest(colours: tuple[str, ...], vision: str | None) -> float:
    """The smallest ΔE*ab between any two of `colours`, as seen with `vision` (None: typical)."""
    return min(float(np.linalg.norm(seen(a, vision) - seen(b, vision))) for a, b in itertools.combinations(colours, 2))


@pytest.mark.parametrize("vision", [None, *MACHADO])
def test_line_colours_stay_apart_for_every_common_colour_vision(vision):
    assert closest(figures.LINES, vision) >= APART, vision


def test_the_check_would_catch_a_palette_that_fails():
    """Plotly's default colours, which the app used before: red and green merge for deuteranopes."""
    default = tuple(plotly.colors.qualitative.Plotly[:len(figures.LINES)])
    assert closest(default, None) >= APART  # fine for typical vision...
    assert min(closest(default, v) for v in MACHADO) < APART  # ...not for everyone


def report(i: int, batches: int = 10) -> BatchReport:
    return BatchReport(epoch=1, batch=i, batches=batches, loss=2.0 / i, accuracy=0.1 * i, samples_per_s=1000.0,
                       elapsed_s=0.1 * i)


def looks(trace) -> tuple:
    """Everything but colour that tells a trace apart: how it is drawn, its dash, width, marker."""
    line, marker = trace.line, trace.marker
    return (trace.mode, line.dash if line else None, line.width if line else None,
            marker.symbol if marker else None)


def test_lines_on_one_chart_differ_by_more_than_colour():
    batches = [report(i) for i in range(1, 11)]
    history = [{"epoch": 1, "eval_loss": 0.1, "eval_accuracy": 0.98}]
    probes = [Probe(progress=0.5, train_accuracy=0.8, eval_accuracy=0.9, eval_loss=0.3)]
    runs = {f"run {i}": [{"epoch": e, "eval_accuracy": 0.9 + e / 100} for e in (1, 2, 3)] for i in range(7)}
    for fig in (figures.loss_curve(T, batches, probes, history, (1, 1)),
                figures.accuracy_curve(T, batches, probes, history, (1, 1)),
                figures.compare(T, runs, "eval_accuracy")):
        kinds = [looks(trace) for trace in fig.data]
        assert len(set(kinds)) == len(kinds), kinds


def test_every_probability_bar_and_confusion_cell_carries_its_number():
    probs = [0.001, 0.0, 0.02, 0.9, 0.05, 0.009, 0.004, 0.006, 0.005, 0.005]
    bar = figures.probabilities(T, probs).data[0]
    assert list(bar.text) == ["<1%", "0%", "2%", "90%", "5%", "1%", "<1%", "1%", "<1%", "<1%"]
    assert [s for s in bar.marker.pattern.shape] == ["", "", "", "/", "", "", "", "", "", ""]  # the answer: hatched too
    per = figures.per_class(T, [0.99, 0.5, *[0.9] * 8]).data[0]
    assert list(per.text) == ["99.0", "50.0", *["90.0"] * 8]
    heat = figures.confusion(T, np.arange(100).reshape(10, 10)).data[0]
    assert heat.texttemplate == "%{z}" and np.array(heat.z).shape == (10, 10)  # plotly writes each cell's count


def test_each_digit_on_the_map_has_its_own_marker_and_its_number():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    points = rng.normal(size=(200, 2)) + labels[:, None]
    fig = figures.digit_map(T, points, labels, np.arange(200), labels, (0.3, 0.2), star=(0.0, 0.0), star_digit=3)
    digits = [trace for trace in fig.data if trace.name in {str(d) for d in range(10)}]
    assert len({trace.marker.symbol for trace in digits}) == 10
    numbers = [a for a in fig.layout.annotations if a.text.startswith("<b>")]
    assert sorted(a.text for a in numbers) == sorted(f"<b>{d}</b>" for d in range(10))
    you = next(a for a in fig.layout.annotations if a.text == "you: 3")  # failed at 95003f1: written on the star,
    assert you.showarrow and (you.ax, you.ay) != (0, 0) and you.bgcolor == "white"  # over the 3s' own "3"
    assert fig.layout.annotations[-1] is you  # drawn last: on top of the clouds' numbers
