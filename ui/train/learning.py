"""The Train page's "watch it learn": conv1's filters and one digit's feature maps as training
goes, live and then as a film to scrub through, and the test digits each conv2 channel likes best."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from lenet.classroom.protocol import Frame
from lenet.classroom.serving import mnist, pages_first
from lenet.data import pixels
from lenet.inside.introspect import strongest
from ui.common.checkpoints import load_saved
from ui.common.i18n import Text
from ui.common.images import mosaic

TOP_K, SEARCHED = 6, 2000  # the 6 strongest of the first 2,000 test digits, per channel


def frame(t: Text, shot: Frame, live: bool = False) -> None:
    """One moment of training: the six conv1 filters, and what they and conv2 make of a fixed digit."""
    st.markdown(t("learn.live" if live else "learn.moment", samples=shot.samples, epoch=shot.progress))
    filters, conv1, conv2 = st.columns([1, 2, 2])
    filters.image(mosaic(shot.filters[:, 0], columns=3, cell=60), caption=t("learn.filters"))
    conv1.image(mosaic(shot.maps["conv1"], columns=3, cell=84), caption=t("learn.conv1_maps"))
    conv2.image(mosaic(shot.maps["conv2"], columns=8, cell=40), caption=t("learn.conv2_maps"))


def film(t: Text, frames: list[Frame]) -> None:
    """The run's frames with a scrubber: from random filters to learned ones."""
    st.subheader(t("learn.again"))
    at = st.select_slider(t("learn.scrubber"), options=range(len(frames)), value=len(frames) - 1,
                          format_func=lambda i: t("learn.samples", n=frames[i].samples), key="film_at")
    frame(t, frames[at])
    st.caption(t("learn.film_caption", n=len(frames)))


@st.cache_data(show_spinner=False, max_entries=8)
def _strongest(path: str, mtime: float) -> tuple[torch.Tensor, torch.Tensor]:
    model = load_saved(path)
    with pages_first():
        return strongest(model, mnist().test.x[:SEARCHED], "conv2", TOP_K)


def strongest_digits(t: Text, path: str) -> None:
    """For each conv2 channel, the test digits whose map peaks highest: what that filter looks for."""
    with st.spinner(t("learn.finding")):
        indices, values = _strongest(path, Path(path).stat().st_mtime)
    test = mnist().test
    st.subheader(t("learn.strongest"))
    st.caption(t("learn.strongest_caption", k=TOP_K, searched=SEARCHED))
    for column, first in zip(st.columns(4), range(0, 16, 4), strict=True):
        chosen = indices[first:first + 4].reshape(-1)  # (4 · TOP_K,)
        column.image(mosaic(pixels(test.x[chosen]), columns=TOP_K, cell=36),
                     caption=t("learn.channels", first=first, last=first + 3))
