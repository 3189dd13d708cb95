"""Explain's convolution stepper: pick a layer, a channel and a position (sliders, arrow keys on a
focused slider, a click on the map, Step, Play) and see how that one output number is made. The
numbers are lenet/inside/stepper.py's, checked against the model's own output."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch
import torch.nn.functional as F
from torch import nn

from lenet.classroom.serving import pages_first
from lenet.data import BACKGROUND
from lenet.inside.introspect import feature_maps
from lenet.inside.stepper import STEP_LAYERS, Window, receptive_field, step
from ui.common.figures import pickable_map
from ui.common.html import numbers
from ui.common.i18n import Text
from ui.common.images import window_on

__all__ = ["convolution_stepper"]

LAYERS = {"conv1": "conv1 (C1)", "pool1": "pool1 (S2)", "conv2": "conv2 (C3)", "pool2": "pool2 (S4)"}  # LeCun's names
PLAY_EVERY_S = 0.8  # one position per tick while playing


def _clamp(shape: tuple[int, int, int]) -> None:
    """Keep the picked channel and position inside the layer's output (a new layer may be smaller)."""
    for key, top in zip(("step_channel", "step_row", "step_col"), shape, strict=True):
        st.session_state[key] = min(st.session_state.get(key, 0), top - 1)


def _advance(shape: tuple[int, int, int]) -> None:
    """One position on, left to right, then the next row: the way a kernel slides."""
    _, h, w = shape
    index = (st.session_state.step_row * w + st.session_state.step_col + 1) % (h * w)
    st.session_state.step_row, st.session_state.step_col = divmod(index, w)


def _picked_on_map() -> None:
    """A click on the output map picks that position."""
    points = st.session_state["step_map"].selection.points
    if points:
        st.session_state.step_row, st.session_state.step_col = int(points[0]["y"]), int(points[0]["x"])


def convolution_stepper(t: Text, model: nn.Module, x: torch.Tensor) -> None:
    """Pick a layer, a channel and a position (sliders, arrow keys on a focused slider, a click on
    the map, Step, Play) and see how that one output number is made, for the input x (1, 1, 28, 28)."""
    with pages_first():
        maps = feature_maps(model, x)  # the shared model is only read
    playing = st.session_state.get("step_play", False)
    padded = F.pad(x[0, 0], (2, 2, 2, 2), value=BACKGROUND).numpy()  # (32, 32): what conv1 slides over

    @st.fragment(run_every=PLAY_EVERY_S if playing else None)
    def stepper() -> None:
        layer = st.radio(t("inside.layer"), STEP_LAYERS, horizontal=True, key="step_layer", format_func=LAYERS.get)
        shape = tuple(maps[layer].shape)  # (C, H, W)
        _clamp(shape)
        if st.session_state.get("step_play") and playing:
            _advance(shape)
        a, b, c, d, e = st.columns([2, 2, 2, 1, 1], vertical_alignment="bottom")
        a.slider(t("inside.channel"), 0, shape[0] - 1, key="step_channel")
        b.slider(t("inside.row"), 0, shape[1] - 1, key="step_row")
        c.slider(t("inside.column"), 0, shape[2] - 1, key="step_col")
        d.button(t("inside.step"), on_click=_advance, args=(shape,), help=t("inside.step_help"), key="step_next")
        if e.toggle(t("inside.play"), key="step_play") != playing:
            st.rerun()  # start or stop the timer: it is set when the fragment is defined
        with pages_first():
            win = step(model, x, layer, st.session_state.step_channel, st.session_state.step_row,
                       st.session_state.step_col)
        _show_window(t, win, maps[layer][win.channel].numpy(), padded)

    stepper()


def _show_window(t: Text, win: Window, output: np.ndarray, padded: np.ndarray) -> None:
    """What the window reads, how much of the digit that is (past conv1), and the output map."""
    top, left, size = receptive_field(win.layer, win.row, win.col)
    panels = st.columns(2 if win.layer == "conv1" else 3)
    shown = win.channel if win.op != "conv" else 0
    if win.op == "conv" and win.patch.shape[0] > 1:
        shown = panels[0].selectbox(t("inside.input_map"), range(win.patch.shape[0]), key="step_input")
    source = t("inside.padded_image") if win.layer == "conv1" else t("inside.reads_map", what=_reads(t, win.layer),
                                                                        map=shown)
    reads = win.inputs[shown].numpy()
    panels[0].image(window_on(reads, win.top, win.left, win.patch.shape[-1], cell=320 // reads.shape[0]),
                    caption=t("inside.it_reads", source=source))
    if win.layer != "conv1":
        panels[1].image(window_on(padded, top, left, size), caption=t("inside.which_sees", size=size))
    title = t("inside.map_title", layer=LAYERS[win.layer], channel=win.channel)
    panels[-1].plotly_chart(pickable_map(t, output, title, (win.row, win.col)), width="content", key="step_map",
                            on_select=_picked_on_map, selection_mode="points")
    if win.op == "conv":
        _show_conv(t, win, shown)
    else:
        _show_pool(t, win)


def _reads(t: Text, layer: str) -> str:
    return {"pool1": "conv1", "conv2": t("inside.pool1_activated"), "pool2": "conv2"}[layer]


def _show_conv(t: Text, win: Window, shown: int) -> None:
    patch, kernel, products = win.patch[shown].numpy(), win.kernel[shown].numpy(), win.products[shown].numpy()
    st.html(numbers([(t("inside.window_numbers"), patch), (t("inside.times_kernel"), kernel),
                            (t("inside.products"), products)]))
    sums = win.per_map.numpy()
    if len(sums) > 1:
        st.markdown(t("inside.conv2_reads_all"))
        st.table([{t("inside.input_map_col"): i, t("inside.map_sum_col"): f"{v:+.4f}"} for i, v in enumerate(sums)])
    total = float(sums.sum())
    terms = t("inside.terms_maps", maps=len(sums)) if len(sums) > 1 else t("inside.terms")
    st.markdown(t("inside.conv_sum", terms=terms, total=total, bias=win.bias, value=win.value))
    st.caption(t("inside.conv_check", layer=win.layer, value=win.model_value))


def _show_pool(t: Text, win: Window) -> None:
    st.html(numbers([(t("inside.pool_window", what=_reads(t, win.layer)), win.patch[0].numpy())]))
    op = t("inside.largest" if win.op == "max" else "inside.average")
    st.markdown(t("inside.pool_result", op=op, value=win.value, activation=win.activation, activated=win.activated))
    st.caption(t("inside.pool_check", layer=win.layer, value=win.model_value, activation=win.activation))
