"""The Train page's "watch it learn": conv1's filters and one digit's feature maps as training
goes, live and then as a film to scrub through, and the test digits each conv2 channel likes best."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from lenet.data import pixels
from lenet.introspect import strongest
from lenet.jobs import mnist, serving
from lenet.train import Frame
from ui import charts
from ui.models import load_saved

TOP_K, SEARCHED = 6, 2000  # the 6 strongest of the first 2,000 test digits, per channel


def frame(shot: Frame, live: bool = False) -> None:
    """One moment of training: the six conv1 filters, and what they and conv2 make of a fixed digit."""
    when = f"after {shot.samples:,} samples (epoch {shot.progress:.2f})"
    st.markdown(f"**Watch it learn**{' · live' if live else ''} · {when}")
    filters, conv1, conv2 = st.columns([1, 2, 2])
    filters.image(charts.mosaic(shot.filters[:, 0], columns=3, cell=60),
                  caption="conv1's 6 filters (5×5)")
    conv1.image(charts.mosaic(shot.maps["conv1"], columns=3, cell=84),
                caption="conv1's maps of the first test digit")
    conv2.image(charts.mosaic(shot.maps["conv2"], columns=8, cell=40),
                caption="conv2's 16 maps of the same digit")


def film(frames: list[Frame]) -> None:
    """The run's frames with a scrubber: from random filters to learned ones."""
    st.subheader("Watch it learn, again")
    at = st.select_slider("Moment of training", options=range(len(frames)), value=len(frames) - 1,
                          format_func=lambda i: f"{frames[i].samples:,} samples", key="film_at")
    frame(frames[at])
    st.caption(f"{len(frames)} frames, one every few hundred training samples. At 0 the filters are random "
               "noise; within the first few thousand digits they become edge and stroke detectors.")


@st.cache_data(show_spinner="Finding the digits each conv2 channel likes best…", max_entries=8)
def _strongest(path: str, mtime: float) -> tuple[torch.Tensor, torch.Tensor]:
    model = load_saved(path)
    with serving():
        return strongest(model, mnist().test.x[:SEARCHED], "conv2", TOP_K)


def strongest_digits(path: str) -> None:
    """For each conv2 channel, the test digits whose map peaks highest: what that filter looks for."""
    indices, values = _strongest(path, Path(path).stat().st_mtime)
    test = mnist().test
    st.subheader("What each conv2 channel looks for")
    st.caption(f"For each of conv2's 16 channels, the {TOP_K} of the first {SEARCHED:,} test digits that excite "
               "it most, strongest first: one row per channel.")
    for column, first in zip(st.columns(4), range(0, 16, 4), strict=True):
        chosen = indices[first:first + 4].reshape(-1)  # (4 · TOP_K,)
        column.image(charts.mosaic(pixels(test.x[chosen]), columns=TOP_K, cell=36),
                     caption=f"channels {first}–{first + 3}")
