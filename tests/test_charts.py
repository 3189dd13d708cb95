"""The figures the pages draw (ui/figures.py), built from real numbers: axes a projector can read."""
import numpy as np
import pytest

from ui.common import figures, images
from ui.common.i18n import Text


def test_digit_axes_label_all_ten_and_loss_never_goes_below_zero():
    t = Text("en")
    fig = figures.per_class(t, [0.99] * 10)
    assert list(fig.layout.xaxis.tickvals) == list(range(10))
    fig = figures.confusion(t, np.eye(10, dtype=int) * 5)
    assert list(fig.layout.xaxis.tickvals) == list(range(10)) == list(fig.layout.yaxis.tickvals)
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
