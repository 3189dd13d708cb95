"""The Explain page's second half: one input (the user's drawing or an MNIST test digit), the
model's answer, and one look inside at a time: the feature maps, the convolution stepper
(stepper.py), the softmax, the digit map (digit_map.py), Fool it and Not a digit? (ui/inside/)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
import torch
from torch import nn

from lenet.classroom.serving import pages_first
from lenet.data import normalise, sample_digits
from lenet.inside.introspect import feature_maps, filters, has_feature_maps
from lenet.inside.stepper import softmax_steps
from lenet.predict import classify
from ui.common import lesson
from ui.common.i18n import Text
from ui.common.images import enlarge, mosaic
from ui.common.links import VIEWS
from ui.common.picker import Choice, saved_as
from ui.explain.digit_map import digit_map_view
from ui.explain.stepper import convolution_stepper
from ui.inside.doubt import doubt_view
from ui.inside.fool import attack_view, curves_view

__all__ = ["answer", "feature_maps_view", "fool_view", "pick_input", "look_inside", "softmax_view"]

NEED_MAPS = ("maps", "stepper")  # the views a model without a conv → pool → conv → pool start can't offer


def pick_input(t: Text) -> tuple[np.ndarray, torch.Tensor]:
    """Which input to look inside with: the drawing from Draw, or an MNIST test digit by number.
    Returns its picture (28, 28) uint8 and the model's input (1, 1, 28, 28)."""
    drawing = st.session_state.get("drawing")
    sources = ["drawing", "mnist"] if drawing is not None else ["mnist"]
    if st.session_state.get("explain_source") not in sources:
        st.session_state.pop("explain_source", None)
    source = st.radio(t("explain.look_with"), sources, horizontal=True, key="explain_source",
                      format_func=lambda v: t("explain.source." + v))
    if source == "drawing":
        st.caption(t("explain.your_drawing"))
        return drawing.centred, drawing.tensor
    digits, _ = sample_digits()
    index = st.number_input(t("explain.digit_number"), 0, len(digits) - 1, lesson.digit(),
                            help=t("explain.digit_help"), key="explain_digit")
    return digits[index], normalise(torch.from_numpy(digits[index:index + 1]))


def answer(t: Text, model: nn.Module, choice: Choice, image: np.ndarray, x: torch.Tensor) -> int:
    """The input, enlarged, and the model's answer beside it; the digit it reads."""
    left, right = st.columns([1, 3])
    left.image(enlarge(image, 168), caption=t("explain.input_caption"))
    reading = classify(model, x)
    right.metric(t("draw.prediction"), str(reading.digit))
    right.caption(t("explain.sure", p=reading.confidence, model=choice.label(t)))
    return reading.digit


@st.fragment  # switching views reruns only this part: the tables above stay as they are
def look_inside(t: Text, model: nn.Module, choice: Choice, x: torch.Tensor, predicted: int,
                about: dict[str, str]) -> None:
    """The views the lesson left shown and the model can offer, and the one picked."""
    views = [v for v in VIEWS if not lesson.hidden(v)]
    if not has_feature_maps(model):  # the MLP, or a design without a conv → pool → conv → pool start
        st.info(t("explain.design_no_maps" if choice.model == "design" else "explain.mlp_no_maps"))
        views = [v for v in views if v not in NEED_MAPS]
    if not views:
        return
    if st.session_state.get("explain_view") not in views:  # e.g. an MLP picked while on the stepper
        st.session_state["explain_view"] = lesson.view() if lesson.view() in views else views[0]
    view = st.radio(t("explain.show"), views, horizontal=True, key="explain_view",
                    format_func=lambda v: t("explain.view." + v))
    shows: dict[str, Callable[[], None]] = {
        "maps": lambda: feature_maps_view(t, model, x, about),
        "stepper": lambda: convolution_stepper(t, model, x),
        "softmax": lambda: softmax_view(t, model, x, predicted),
        "map": lambda: digit_map_view(t, model, saved_as(choice), x, predicted),
        "fool": lambda: fool_view(t, model, choice, x),
        "doubt": lambda: doubt_view(t, model, choice, x),
    }
    shows[view]()


def feature_maps_view(t: Text, model: nn.Module, x: torch.Tensor, about: dict[str, str]) -> None:
    """The four feature maps of this input, and the learned filters."""
    with pages_first():  # training waits while this page computes
        maps = feature_maps(model, x)  # the shared model is only read
    order = t("inside.order_max" if about["pool"] == "max" else "inside.order_avg")
    st.caption(t("inside.maps_caption", order=order))
    st.image(mosaic(maps["conv1"].numpy(), columns=6, cell=112), caption=t("inside.conv1_maps"))
    st.image(mosaic(maps["pool1"].numpy(), columns=6, cell=112), caption=t("inside.pool1_maps"))
    st.image(mosaic(maps["conv2"].numpy(), columns=8, cell=80), caption=t("inside.conv2_maps"))
    st.image(mosaic(maps["pool2"].numpy(), columns=8, cell=80), caption=t("inside.pool2_maps"))
    kernels = filters(model)
    left, right = st.columns([1, 2])
    left.image(mosaic(kernels["conv1"][:, 0].numpy(), columns=3, cell=60), caption=t("inside.conv1_filters"))
    right.image(mosaic(kernels["conv2"].reshape(-1, *kernels["conv2"].shape[-2:]).numpy(), columns=12, cell=40),
                caption=t("inside.conv2_filters"))


def softmax_view(t: Text, model: nn.Module, x: torch.Tensor, predicted: int) -> None:
    """The last step for this input: ten scores, exponentiated, normalised; and the loss training
    would take for a true label the user picks."""
    label = st.selectbox(t("inside.true_label"), range(10), index=predicted, key="softmax_label")
    s = softmax_steps(model, x, label)
    rows = [{t("inside.col_digit"): d, t("inside.col_logit"): f"{s.logits[d]:+.3f}",
             t("inside.col_exp"): f"{s.exps[d]:.4g}", t("inside.col_prob"): f"{s.probs[d]:.2%}",
             "": t("inside.true_mark") if d == label else ""} for d in range(10)]
    st.table(rows)
    st.markdown(t("inside.softmax_sum", total=s.total))
    st.markdown(t("inside.cross_entropy", label=label, p=s.probs[label], loss=s.loss))
    st.caption(t("inside.cross_entropy_caption"))


def fool_view(t: Text, model: nn.Module, choice: Choice, x: torch.Tensor) -> None:
    """Fool it on this input, then accuracy against ε for the models the class picks."""
    attack_view(t, model, x, key="explain_fool")
    curves_view(t, choice)
