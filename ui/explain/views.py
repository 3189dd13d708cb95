"""The Explain page's looks inside one model and one input: the convolution stepper, the softmax,
and the digits as a map. Each draws itself; the page says which one is shown."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch
import torch.nn.functional as F
from torch import nn

from lenet.classroom.serving import mnist, pages_first
from lenet.data import BACKGROUND, pixels
from lenet.inside.embedding import digit_map, place
from lenet.inside.introspect import feature_maps, filters
from lenet.inside.stepper import STEP_LAYERS, receptive_field, softmax_steps, step
from lenet.inside.tsne import MapCache, TsneMap, place_tsne, tsne_map
from ui import charts
from ui.drawing import enlarge
from ui.i18n import Text

# Explain's looks inside, in the order offered (lesson links name them)
VIEWS = ("maps", "stepper", "softmax", "map", "fool", "doubt")
LAYERS = {"conv1": "conv1 (C1)", "pool1": "pool1 (S2)", "conv2": "conv2 (C3)", "pool2": "pool2 (S4)"}  # LeCun's names
PLAY_EVERY_S = 0.8  # one position per tick while playing
MAP_DIGITS = 2000  # enough to see every cluster; each dot is an SVG element the browser draws
MAP_METHODS = ("pca", "tsne")  # the digit map's layouts: PCA, the honest linear view, first; then t-SNE
TSNE_MAPS: MapCache[TsneMap] = MapCache(size=8)  # t-SNE maps by checkpoint (path, mtime), shared by every session


def feature_maps_view(t: Text, model: nn.Module, x: torch.Tensor, about: dict[str, str]) -> None:
    """The four feature maps of this input, and the learned filters."""
    with pages_first():  # training waits while this page computes
        maps = feature_maps(model, x)  # the shared model is only read
    order = t("inside.order_max" if about["pool"] == "max" else "inside.order_avg")
    st.caption(t("inside.maps_caption", order=order))
    st.image(charts.mosaic(maps["conv1"].numpy(), columns=6, cell=112), caption=t("inside.conv1_maps"))
    st.image(charts.mosaic(maps["pool1"].numpy(), columns=6, cell=112), caption=t("inside.pool1_maps"))
    st.image(charts.mosaic(maps["conv2"].numpy(), columns=8, cell=80), caption=t("inside.conv2_maps"))
    st.image(charts.mosaic(maps["pool2"].numpy(), columns=8, cell=80), caption=t("inside.pool2_maps"))
    kernels = filters(model)
    left, right = st.columns([1, 2])
    left.image(charts.mosaic(kernels["conv1"][:, 0].numpy(), columns=3, cell=60), caption=t("inside.conv1_filters"))
    right.image(charts.mosaic(kernels["conv2"].reshape(-1, *kernels["conv2"].shape[-2:]).numpy(), columns=12, cell=40),
                caption=t("inside.conv2_filters"))


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


def convolution_stepper(t: Text, model: nn.Module, x: torch.Tensor, maps: dict[str, torch.Tensor]) -> None:
    """Pick a layer, a channel and a position (sliders, arrow keys on a focused slider, a click on
    the map, Step, Play) and see how that one output number is made."""
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


def _show_window(t: Text, win, output: np.ndarray, padded: np.ndarray) -> None:
    """What the window reads, how much of the digit that is (past conv1), and the output map."""
    top, left, size = receptive_field(win.layer, win.row, win.col)
    panels = st.columns(2 if win.layer == "conv1" else 3)
    shown = win.channel if win.op != "conv" else 0
    if win.op == "conv" and win.patch.shape[0] > 1:
        shown = panels[0].selectbox(t("inside.input_map"), range(win.patch.shape[0]), key="step_input")
    source = t("inside.padded_image") if win.layer == "conv1" else t("inside.reads_map", what=_reads(t, win.layer),
                                                                        map=shown)
    reads = win.inputs[shown].numpy()
    panels[0].image(charts.window_on(reads, win.top, win.left, win.patch.shape[-1], cell=320 // reads.shape[0]),
                    caption=t("inside.it_reads", source=source))
    if win.layer != "conv1":
        panels[1].image(charts.window_on(padded, top, left, size), caption=t("inside.which_sees", size=size))
    title = t("inside.map_title", layer=LAYERS[win.layer], channel=win.channel)
    panels[-1].plotly_chart(charts.pickable_map(t, output, title, (win.row, win.col)), width="content", key="step_map",
                            on_select=_picked_on_map, selection_mode="points")
    if win.op == "conv":
        _show_conv(t, win, shown)
    else:
        _show_pool(t, win)


def _reads(t: Text, layer: str) -> str:
    return {"pool1": "conv1", "conv2": t("inside.pool1_activated"), "pool2": "conv2"}[layer]


def _show_conv(t: Text, win, shown: int) -> None:
    patch, kernel, products = win.patch[shown].numpy(), win.kernel[shown].numpy(), win.products[shown].numpy()
    st.html(charts.numbers([(t("inside.window_numbers"), patch), (t("inside.times_kernel"), kernel),
                            (t("inside.products"), products)]))
    sums = win.per_map.numpy()
    if len(sums) > 1:
        st.markdown(t("inside.conv2_reads_all"))
        st.table([{t("inside.input_map_col"): i, t("inside.map_sum_col"): f"{v:+.4f}"} for i, v in enumerate(sums)])
    total = float(sums.sum())
    terms = t("inside.terms_maps", maps=len(sums)) if len(sums) > 1 else t("inside.terms")
    st.markdown(t("inside.conv_sum", terms=terms, total=total, bias=win.bias, value=win.value))
    st.caption(t("inside.conv_check", layer=win.layer, value=win.model_value))


def _show_pool(t: Text, win) -> None:
    st.html(charts.numbers([(t("inside.pool_window", what=_reads(t, win.layer)), win.patch[0].numpy())]))
    op = t("inside.largest" if win.op == "max" else "inside.average")
    st.markdown(t("inside.pool_result", op=op, value=win.value, activation=win.activation, activated=win.activated))
    st.caption(t("inside.pool_check", layer=win.layer, value=win.model_value, activation=win.activation))


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


def _map(model: nn.Module):
    test = mnist().test
    return digit_map(model, test.x, test.y, n=MAP_DIGITS)


@st.cache_data(show_spinner=False, max_entries=8)
def _saved_map(path: str, mtime: float, _model: nn.Module):
    """The map of a saved model, computed once per checkpoint file (its path and mtime name it)."""
    return _map(_model)


def _tsne(t: Text, model: nn.Module, saved: tuple[str, float]) -> TsneMap:
    """The t-SNE map of a saved model, made once per checkpoint file for every session (TSNE_MAPS),
    with a progress bar while it is made; a session asking meanwhile shows the same progress."""
    bar: list = []

    def shown(share: float) -> None:
        if not bar:  # only while it is being made: a map already made shows no bar at all
            bar.append(st.progress(0.0, text=t("inside.tsne_progress", n=MAP_DIGITS)))
        bar[0].progress(share, text=t("inside.tsne_progress", n=MAP_DIGITS))

    test = mnist().test
    tmap = TSNE_MAPS.get(saved, lambda report: tsne_map(model, test.x, test.y, n=MAP_DIGITS, progress=report), shown)
    if bar:
        bar[0].empty()
    return tmap


def _method(t: Text, saved: tuple[str, float] | None) -> str:
    """PCA or t-SNE. The live model (a run training now) gets PCA only: its weights change every
    few seconds, and a t-SNE layout takes seconds and comes out differently for each version, so
    the islands would be rebuilt and rearranged on every drawing. A student expects the map to
    stay put while they draw; PCA of the live model takes milliseconds. The switch stays in
    sight, greyed, with the reason under it."""
    label, name = t("inside.map_method"), (lambda m: t("inside.map_method_" + m))
    if saved is None:
        st.radio(label, MAP_METHODS, index=0, horizontal=True, disabled=True, key="map_method_live", format_func=name)
        st.caption(t("inside.tsne_live"))
        return "pca"
    return st.radio(label, MAP_METHODS, horizontal=True, key="map_method", format_func=name)


def digit_map_view(t: Text, model: nn.Module, saved: tuple[str, float] | None, x: torch.Tensor,
                   predicted: int) -> None:
    """2,000 test digits placed by the network's last hidden layer, by PCA or t-SNE, and this input
    as a star. `saved` names a checkpoint file (path, mtime) so its maps are computed once; None
    for the live model. After the first computation, placing the star takes milliseconds."""
    method = _method(t, saved)
    with pages_first():
        if method == "tsne":
            shown = _tsne(t, model, saved)
            star, explained, caption = place_tsne(model, shown, x), None, t("inside.tsne_caption", width=shown.width)
        else:
            with st.spinner(t("inside.placing", n=MAP_DIGITS)):
                shown = _saved_map(*saved, model) if saved is not None else _map(model)
                star, explained = place(model, shown.projection, x), shown.projection.explained
            caption = t("inside.map_caption", width=shown.projection.mean.shape[0])
    fig = charts.digit_map(t, shown.points, shown.labels, shown.indices, shown.predicted, explained, star, predicted)
    event = st.plotly_chart(fig, width="stretch", key="digit_map", on_select="rerun", selection_mode="points",
                            config={"displayModeBar": False})
    st.caption(caption)
    st.caption(t("inside.map_knn", accuracy=shown.knn))
    points = event.selection.points if event else []
    if points and "customdata" in points[0]:
        index = int(points[0]["customdata"][0])
        test = mnist().test
        st.image(enlarge(pixels(test.x[index])[0], 112), caption=t("inside.map_image", index=index,
                                                                    digit=int(test.y[index])))
