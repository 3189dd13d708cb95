"""The Draw page's answer: the Prediction with its ten probabilities and the digit-like flag, and
what the model sees (MNIST's recipe step by step, the naive resize, every saved model's answer)."""
from __future__ import annotations

from typing import Any

import streamlit as st
from torch import nn

from lenet.predict import Prediction, classify
from lenet.preprocess import naive_resize
from ui.common import lesson
from ui.common.figures import probabilities
from ui.common.i18n import Text
from ui.common.images import tile
from ui.common.picker import Choice, all_models
from ui.draw.canvas import Read
from ui.inside.doubt import read, say_verdict

__all__ = ["show", "steps"]

BARS = {"displayModeBar": False}  # the probabilities: hover, but no tool bar over the bars


def show(t: Text, model: nn.Module, choice: Choice, seen: Read, chart: Any) -> tuple[Prediction | None, bool]:
    """The Prediction, and the ten probabilities in `chart` (beside the canvas); the reading (None
    before a drawing), and whether the digit-like check flagged it."""
    trouble = st.empty()  # a slot, so an error about an earlier upload never outlives it
    if seen.problem:
        trouble.error(seen.problem)
    if seen.drawing is None:
        # The same two lines a prediction takes, so the canvas below never moves: it used to jump
        # down when the first prediction replaced a taller prompt, cutting the stroke being drawn.
        st.metric(t("draw.prediction"), "–")
        st.caption(t("draw.prompt"))
        # an empty chart now means the chart library is loaded before the first stroke
        chart.plotly_chart(probabilities(t, [0.0] * 10), width="stretch", config=BARS)
        chart.empty()  # the digit-like slot below
        return None, False
    reading, looks = read(model, choice, seen.drawing)  # one pass through the model for both
    st.metric(t("draw.prediction"), str(reading.digit))
    st.caption(t("draw.sure", p=reading.confidence, source=seen.source, model=choice.label(t)))
    chart.plotly_chart(probabilities(t, reading.probs), width="stretch", config=BARS)
    with chart.empty().container():  # beside the canvas, under the bars: a warning here never moves the canvas
        say_verdict(t, looks, reading.digit)  # the guess stands; is it a digit?
    return reading, looks is not None and not looks.digit_like


def steps(t: Text, model: nn.Module, seen: Read) -> None:
    """What the model sees, once it is opened (a stroke's run draws only the answer, and four pictures
    a stroke for thirty students was work nobody looked at): the ink, cropped, fitted into 20×20,
    centred; on request the naive resize and every saved model's answer."""
    drawing = seen.drawing
    if not st.toggle(t("draw.sees"), key="sees_toggle"):
        return
    st.caption(t("draw.sees_caption"))
    shown = [(t("draw.step_ink"), drawing.ink), (t("draw.step_cropped"), drawing.cropped),
             (t("draw.step_fitted"), drawing.fitted), (t("draw.step_centred"), drawing.centred)]
    for column, (caption, image) in zip(st.columns(4), shown, strict=True):
        column.image(tile(image), caption=caption, width=160)

    if seen.raw is not None and not lesson.hidden("naive") and st.toggle(t("draw.naive"), key="naive_toggle"):
        squeezed = naive_resize(seen.raw)
        naive = classify(model, squeezed)
        left, right = st.columns([1, 3])
        left.image(tile(squeezed.centred), caption=t("draw.squeezed"), width=160)
        right.metric(t("draw.naive_prediction"), str(naive.digit))
        right.caption(t("draw.naive_caption", p=naive.confidence))

    if not lesson.hidden("models") and st.toggle(t("draw.all_models"), key="models_toggle"):
        models = all_models()
        for row in range(0, len(models), 4):
            for column, (entry, other) in zip(st.columns(4), models[row:row + 4], strict=False):
                r = classify(other, drawing)
                column.metric(entry.label(t), str(r.digit))
                column.caption(t("draw.sure_short", p=r.confidence))
