"""The Explain page's looks inside one model and one input: the convolution stepper, the softmax,
and the digits as a map. Each draws itself; the page says which one is shown."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch
import torch.nn.functional as F
from torch import nn

from lenet.data import BACKGROUND, pixels
from lenet.embedding import digit_map, place
from lenet.introspect import feature_maps, filters
from lenet.jobs import mnist, serving
from lenet.stepper import STEP_LAYERS, receptive_field, softmax_steps, step
from ui import charts
from ui.drawing import enlarge

LAYERS = {"conv1": "conv1 (C1)", "pool1": "pool1 (S2)", "conv2": "conv2 (C3)", "pool2": "pool2 (S4)"}
PLAY_EVERY_S = 0.8  # one position per tick while playing
MAP_DIGITS = 2000  # enough to see every cluster; each dot is an SVG element the browser draws


def feature_maps_view(model: nn.Module, x: torch.Tensor, about: dict[str, str]) -> None:
    """The four feature maps of this input, and the learned filters."""
    with serving():  # training waits while this page computes
        maps = feature_maps(model, x)  # the shared model is only read
    order = ("Pooling comes before the activation here; with max-pooling that gives the same result."
             if about["pool"] == "max" else "Average pooling comes before the activation, as in LeCun's S2 and S4.")
    st.caption(f"Each map is one filter slid over the image: bright where the image matches the filter. {order}")
    st.image(charts.mosaic(maps["conv1"].numpy(), columns=6, cell=112), caption="conv1: 6 maps of 28×28")
    st.image(charts.mosaic(maps["pool1"].numpy(), columns=6, cell=112), caption="pool1: 6 maps of 14×14")
    st.image(charts.mosaic(maps["conv2"].numpy(), columns=8, cell=80), caption="conv2: 16 maps of 10×10")
    st.image(charts.mosaic(maps["pool2"].numpy(), columns=8, cell=80),
             caption="pool2: 16 maps of 5×5, flattened into the 400 numbers fc1 reads")
    kernels = filters(model)
    left, right = st.columns([1, 2])
    left.image(charts.mosaic(kernels["conv1"][:, 0].numpy(), columns=3, cell=60),
               caption="conv1 filters: 6 of 5×5 (bright = positive weight)")
    right.image(charts.mosaic(kernels["conv2"].reshape(-1, 5, 5).numpy(), columns=12, cell=40),
                caption="conv2 filters: 16 output maps × 6 input maps, two output maps per row")


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


def convolution_stepper(model: nn.Module, x: torch.Tensor, maps: dict[str, torch.Tensor]) -> None:
    """Pick a layer, a channel and a position (sliders, arrow keys on a focused slider, a click on
    the map, Step, Play) and see how that one output number is made."""
    playing = st.session_state.get("step_play", False)
    padded = F.pad(x[0, 0], (2, 2, 2, 2), value=BACKGROUND).numpy()  # (32, 32): what conv1 slides over

    @st.fragment(run_every=PLAY_EVERY_S if playing else None)
    def stepper() -> None:
        layer = st.radio("Layer", STEP_LAYERS, horizontal=True, key="step_layer", format_func=LAYERS.get)
        shape = tuple(maps[layer].shape)  # (C, H, W)
        _clamp(shape)
        if st.session_state.get("step_play") and playing:
            _advance(shape)
        a, b, c, d, e = st.columns([2, 2, 2, 1, 1], vertical_alignment="bottom")
        a.slider("Output channel", 0, shape[0] - 1, key="step_channel")
        b.slider("Row", 0, shape[1] - 1, key="step_row")
        c.slider("Column", 0, shape[2] - 1, key="step_col")
        d.button("Step →", on_click=_advance, args=(shape,), help="One position on, as the kernel slides")
        if e.toggle("Play", key="step_play") != playing:
            st.rerun()  # start or stop the timer: it is set when the fragment is defined
        with serving():
            win = step(model, x, layer, st.session_state.step_channel, st.session_state.step_row,
                       st.session_state.step_col)
        _show_window(win, maps[layer][win.channel].numpy(), padded)

    stepper()


def _show_window(win, output: np.ndarray, padded: np.ndarray) -> None:
    """What the window reads, how much of the digit that is (past conv1), and the output map."""
    top, left, size = receptive_field(win.layer, win.row, win.col)
    panels = st.columns(2 if win.layer == "conv1" else 3)
    shown = win.channel if win.op != "conv" else 0
    if win.op == "conv" and win.patch.shape[0] > 1:
        shown = panels[0].selectbox("Input map shown", range(win.patch.shape[0]), key="step_input")
    source = "the padded 32×32 image" if win.layer == "conv1" else f"{_reads(win.layer)}, map {shown}"
    reads = win.inputs[shown].numpy()
    panels[0].image(charts.window_on(reads, win.top, win.left, win.patch.shape[-1], cell=320 // reads.shape[0]),
                    caption=f"It reads {source}")
    if win.layer != "conv1":
        panels[1].image(charts.window_on(padded, top, left, size), caption=f"…which sees {size}×{size} of the padded "
                        "digit")
    panels[-1].plotly_chart(charts.pickable_map(output, f"{LAYERS[win.layer]}, channel {win.channel}: click a cell",
                                                (win.row, win.col)), width="content", key="step_map",
                            on_select=_picked_on_map, selection_mode="points")
    if win.op == "conv":
        _show_conv(win, shown)
    else:
        _show_pool(win)


def _reads(layer: str) -> str:
    return {"pool1": "conv1", "conv2": "pool1 → activation", "pool2": "conv2"}[layer]


def _show_conv(win, shown: int) -> None:
    patch, kernel, products = win.patch[shown].numpy(), win.kernel[shown].numpy(), win.products[shown].numpy()
    st.html(charts.numbers([("the window of numbers", patch), ("× the kernel's weights", kernel),
                            ("= the products", products)]))
    sums = win.per_map.numpy()
    if len(sums) > 1:
        st.markdown("**conv2 reads all 6 pool1 maps at once**: each has its own 5×5 kernel, and the six sums add up.")
        st.table([{"input map": i, "sum of its 25 products": f"{v:+.4f}"} for i, v in enumerate(sums)])
    total = float(sums.sum())
    terms = f"{len(sums)} maps × 25 products" if len(sums) > 1 else "25 products"
    st.markdown(f"#### Σ ({terms}) = {total:+.4f} · + bias {win.bias:+.4f} · = **{win.value:+.4f}**")
    st.caption(f"The model's own {win.layer} map holds {win.model_value:+.4f} here. Pooling comes next and the "
               "activation after it, so this number is the map before any activation.")


def _show_pool(win) -> None:
    op = "the largest" if win.op == "max" else "the average"
    st.html(charts.numbers([(f"the 2×2 window of {_reads(win.layer)}", win.patch[0].numpy())]))
    st.markdown(f"#### {op} of the four = **{win.value:+.4f}** · then {win.activation} → **{win.activated:+.4f}**")
    st.caption(f"The model's own {win.layer} map holds {win.model_value:+.4f} here; the next layer reads the "
               f"value after {win.activation}.")


def softmax_view(model: nn.Module, x: torch.Tensor, predicted: int) -> None:
    """The last step for this input: ten scores, exponentiated, normalised; and the loss training
    would take for a true label the user picks."""
    label = st.selectbox("True label (for the loss)", range(10), index=predicted, key="softmax_label")
    s = softmax_steps(model, x, label)
    rows = [{"digit": d, "logit (score)": f"{s.logits[d]:+.3f}", "e^(logit − max)": f"{s.exps[d]:.4g}",
             "÷ sum = probability": f"{s.probs[d]:.2%}", "": "← true label" if d == label else ""}
            for d in range(10)]
    st.table(rows)
    st.markdown(f"Sum of the exps = **{s.total:.4f}**; each probability is its exp divided by that sum, so the "
                "ten add up to 100%. Subtracting the largest logit first changes no probability, and keeps e^x "
                "from overflowing.")
    st.markdown(f"#### cross-entropy = −log p({label}) = −log {s.probs[label]:.4f} = **{s.loss:.4f}**")
    st.caption("This is the number training makes smaller: near 0 when the true digit gets nearly all the "
               "probability, large when the model is confidently wrong.")


def _map(model: nn.Module):
    test = mnist().test
    return digit_map(model, test.x, test.y, n=MAP_DIGITS)


@st.cache_data(show_spinner="Placing 2,000 test digits…", max_entries=8)
def _saved_map(path: str, mtime: float, _model: nn.Module):
    """The map of a saved model, computed once per checkpoint file (its path and mtime name it)."""
    return _map(_model)


def digit_map_view(model: nn.Module, saved: tuple[str, float] | None, x: torch.Tensor, predicted: int) -> None:
    """2,000 test digits placed by the network's last hidden layer, and this input as a star.
    `saved` names a checkpoint file (path, mtime) so its map is computed once; None for the live model."""
    with serving():
        dmap = _saved_map(*saved, model) if saved is not None else _map(model)
        star = place(model, dmap.projection, x)
    fig = charts.digit_map(dmap.points, dmap.labels, dmap.indices, dmap.predicted, dmap.projection.explained, star,
                           predicted)
    event = st.plotly_chart(fig, width="stretch", key="digit_map", on_select="rerun", selection_mode="points",
                            config={"displayModeBar": False})
    width = dmap.projection.mean.shape[0]
    st.caption(f"Each dot is a test digit, placed by the {width} numbers of the network's last hidden layer, squeezed "
               "to the two directions along which they vary most (PCA). Digits the network finds alike land "
               "together. Hover a dot to see which digit it is; click one to see it.")
    points = event.selection.points if event else []
    if points and "customdata" in points[0]:
        index = int(points[0]["customdata"][0])
        test = mnist().test
        st.image(enlarge(pixels(test.x[index])[0], 112), caption=f"test image #{index}: a {int(test.y[index])}")
