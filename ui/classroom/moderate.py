"""The teacher's corrections on the Class page: find drawings (a confusion cell clicked, the digit
they are labelled, the digit the model reads, or a filter), relabel one, leave one out, undo the
last. Each correction is a line in lenet/classroom/moderation.py's append-only log: nothing is
lost by a mis-click."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
from torch import nn

from lenet.classroom import collection, moderation
from ui.classroom.collection import answers
from ui.common.figures import clickable_confusion
from ui.common.i18n import Text
from ui.common.images import enlarge

SHOWN = 24  # drawings listed at once: a projector's screenful
FILTERS = ("newest", "corrected", "disagrees")  # every drawing; a student corrected the model; the model reads another
ANY = "any"


def _relabel(folder: Path, id_: str, key: str) -> None:
    moderation.relabel(folder, id_, int(st.session_state[key]))


def _picked(drawings: collection.Drawings, said, truth: str, read: str, show: str) -> list[int]:
    """Indices of the drawings that match: labelled `truth`, read as `read` (each a digit or ANY), and the filter."""
    keep = []
    for i, item in enumerate(drawings.items):
        if truth != ANY and item.label != int(truth) or read != ANY and int(said[i]) != int(read):
            continue
        if show == "corrected" and not (item.predicted is not None and item.predicted != item.label):
            continue
        if show == "disagrees" and int(said[i]) == item.label:
            continue
        keep.append(i)
    return keep


def _cell_chosen() -> None:
    """A confusion cell was clicked: pick its true and predicted digit in the two menus."""
    points = st.session_state["moderate_cell"]["selection"]["points"]
    if points:
        true, read, _ = points[0]["customdata"]
        st.session_state["moderate_truth"], st.session_state["moderate_read"] = str(true), str(read)


def moderate(t: Text, model: nn.Module, folder: Path) -> None:
    """The corrections section: a confusion matrix to click, filters, the matching drawings with
    their controls, and Undo."""
    st.subheader(t("moderate.title"))
    st.caption(t("moderate.caption"))
    drawings = collection.read(folder)
    said = answers(model, drawings.images)
    matrix = np.zeros((10, 10), np.int64)
    np.add.at(matrix, (drawings.labels, said), 1)
    left, right = st.columns(2)  # half the page: cells big enough to hit on a projector
    left.plotly_chart(clickable_confusion(t, matrix, t("moderate.click")), key="moderate_cell",
                      on_select=_cell_chosen, selection_mode="points", width="stretch",
                      config={"displayModeBar": False})
    digits = [ANY, *map(str, range(10))]
    truth = right.selectbox(t("moderate.labelled"), digits, key="moderate_truth", format_func=lambda d: _any(t, d))
    read = right.selectbox(t("moderate.read"), digits, key="moderate_read", format_func=lambda d: _any(t, d))
    show = right.radio(t("moderate.show"), FILTERS, key="moderate_show", format_func=lambda f: t("moderate." + f))
    picked = _picked(drawings, said, truth, read, show)
    st.markdown(t("moderate.found", n=len(picked), shown=min(len(picked), SHOWN)))
    for row in range(0, min(len(picked), SHOWN), 6):
        for column, i in zip(st.columns(6), picked[row:row + 6], strict=False):
            _one(t, column, folder, drawings.items[i], drawings.images[i], int(said[i]))
    _undo(t, folder)


def _any(t: Text, digit: str) -> str:
    return t("moderate.any") if digit == ANY else digit


def _one(t: Text, column, folder: Path, item: collection.Item, image, read: int) -> None:
    """One drawing: its picture, what it is labelled and read as, a relabel menu and Leave out."""
    column.image(enlarge(image, 84), width=84)
    was = t("moderate.was", digit=item.original) if item.original is not None else ""
    column.caption(t("moderate.item", label=item.label, read=read) + was)
    key = f"relabel_{item.id}"
    st.session_state[key] = item.label  # the menu shows the label in force, after an undo too
    column.selectbox(t("moderate.relabel"), range(10), key=key, on_change=_relabel, args=(folder, item.id, key))
    column.button(t("moderate.delete"), key=f"delete_{item.id}", on_click=moderation.delete, args=(folder, item.id))


def _undo(t: Text, folder: Path) -> None:
    latest = moderation.moderated(folder).latest
    what = t("moderate.undo_" + latest.action) if latest is not None else ""
    if st.button(t("moderate.undo", what=what), disabled=latest is None, key="moderate_undo",
                 icon=":material/undo:", on_click=moderation.undo, args=(folder,)):
        st.toast(t("moderate.undone"))
