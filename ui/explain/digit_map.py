"""Explain's digit map: 2,000 test digits placed by the network's last hidden layer, by PCA or
t-SNE (lenet/inside/embedding.py, tsne.py), with the input as a star; a click shows a digit."""
from __future__ import annotations

import streamlit as st
import torch
from torch import nn

from lenet.classroom.serving import mnist, pages_first
from lenet.data import mnist_here, pixels
from lenet.inside.embedding import digit_map, place
from lenet.inside.tsne import MapCache, TsneMap, place_tsne, tsne_map
from ui.common import figures
from ui.common.i18n import Text
from ui.common.images import enlarge

__all__ = ["digit_map_view"]

MAP_DIGITS = 2000  # enough to see every cluster; each dot is an SVG element the browser draws
MAP_METHODS = ("pca", "tsne")  # the digit map's layouts: PCA, the honest linear view, first; then t-SNE
TSNE_MAPS: MapCache[TsneMap] = MapCache(size=8)  # t-SNE maps by checkpoint (path, mtime), shared by every session


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
    if not mnist_here():  # the map places MNIST's test digits: said at once, offline
        st.info(t("data.needed"))
        return
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
    fig = figures.digit_map(t, shown.points, shown.labels, shown.indices, shown.predicted, explained, star, predicted)
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
