"""The Class page's collection: the class's drawings as the picked model reads them, live (the
counts, the confusion matrix, the newest drawings), `answers`, the model's reading of each, and
exporting or clearing them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch
from torch import nn

from lenet.classroom import collection
from lenet.classroom.lead import clear_answers
from lenet.classroom.serving import pages_first
from lenet.data import normalise
from lenet.files import collection_dir, runs_dir
from lenet.messages import Message
from ui.common.figures import CONFUSION_HEIGHT, STILL, confusion
from ui.common.i18n import Text
from ui.common.images import enlarge
from ui.common.news import follow
from ui.common.picker import Choice

__all__ = ["EXPORT_NAME", "answers", "export_and_clear", "live_collection"]

EXPORT_NAME = "lenet-lab-class-drawings.zip"
GRID = 48  # the newest drawings shown
REFRESH_S = 3.0  # with no news stream: how often the page looks for new drawings


def answers(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """The model's digit for each drawing's image (N, 28, 28) uint8, (N,). Only reads the shared
    model (no mode switch)."""
    if not len(images):
        return np.zeros(0, np.int64)
    x = normalise(torch.from_numpy(images))  # (N, 1, 28, 28)
    with torch.no_grad(), pages_first():
        return torch.cat([model(part).argmax(1) for part in x.split(512)]).numpy()


def live_collection(t: Text, model: nn.Module, choice: Choice) -> None:
    def view() -> None:
        drawings = collection.read(collection_dir())
        if drawings.damaged:
            st.warning(t.msg(Message("collection.skipped", n=drawings.damaged)))
        chosen = drawings.items
        if not chosen:
            st.info(t("class.empty"))
            return
        said, truth = answers(model, drawings.images), drawings.labels
        right = int((said == truth).sum())
        a, b, c = st.columns(3)
        a.metric(t("class.drawings"), f"{len(chosen):,}")
        b.metric(t("class.accuracy", model=choice.name), f"{right / len(chosen):.1%}")
        c.metric(t("class.corrected"), f"{sum(i.predicted is not None and i.predicted != i.label for i in chosen):,}")
        matrix = np.zeros((10, 10), np.int64)
        np.add.at(matrix, (truth, said), 1)
        left, grid = st.columns([2, 3])
        left.plotly_chart(confusion(t, matrix, t("class.confusion", n=len(chosen))), width="stretch",
                          key="class-confusion", config=STILL)
        newest = chosen[:GRID]
        # as tall as the chart beside it, scrolling inside: a new drawing grows the grid, never the
        # page, so the corrections below don't move under the teacher's pointer
        with grid.container(height=CONFUSION_HEIGHT, border=False):
            st.markdown(t("class.newest", n=len(newest)))
            st.image([enlarge(image, 56) for image in drawings.images[:GRID]], width=56,
                     caption=[t("class.read_right" if s == i.label else "class.read_wrong", drawn=i.label, read=int(s))
                              for i, s in zip(newest, said[:GRID], strict=True)])

    follow(view, name="collection", topics=("collection",), every=REFRESH_S)


def export_and_clear(t: Text, folder: Path, count: int, export: bool, clear: bool) -> None:
    """Download the `count` drawings as a zip (`export`), and delete them all once the teacher ticks
    that they are sure (`clear`)."""
    if export:
        st.subheader(t("class.export"))
        st.download_button(t("class.download", n=count), data=lambda: collection.export_zip(folder),
                           file_name=EXPORT_NAME, mime="application/zip", key="export", on_click="ignore")
    if clear:
        sure = st.checkbox(t("class.clear_sure", n=count), key="clear_sure")
        if st.button(t("class.clear"), disabled=not sure, key="clear_all"):
            gone, answers_gone = collection.clear(folder), clear_answers(runs_dir())  # the class's data, all of it
            st.session_state.pop("clear_sure", None)
            st.toast(t("class.cleared", n=gone, a=answers_gone))
            st.rerun()
