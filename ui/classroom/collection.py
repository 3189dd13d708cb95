"""The Class page's parts: the class's drawings as the picked model reads them, live; the
fine-tuning recipe; and the report of a fine-tuning run, before against after."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch
from torch import nn

from lenet.classroom import collection
from lenet.classroom.finetune import EPOCHS, REPLAY
from lenet.classroom.jobs import Job
from lenet.classroom.serving import pages_first
from lenet.data import normalise
from lenet.files import collection_dir
from lenet.messages import Message
from lenet.models import LAYERS
from ui import charts
from ui.drawing import enlarge
from ui.i18n import Text
from ui.models import Choice

EXPORT_NAME = "lenet-lab-class-drawings.zip"
GRID = 48  # the newest drawings shown
REFRESH_S = 3.0  # how often the page looks for new drawings


def answers(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """The model's digit for each drawing's image (N, 28, 28) uint8, (N,). Only reads the shared
    model (no mode switch)."""
    if not len(images):
        return np.zeros(0, np.int64)
    x = normalise(torch.from_numpy(images))  # (N, 1, 28, 28)
    with torch.no_grad(), pages_first():
        return torch.cat([model(part).argmax(1) for part in x.split(512)]).numpy()


def live_collection(t: Text, model: nn.Module, choice: Choice) -> None:
    @st.fragment(run_every=REFRESH_S)
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
        left.plotly_chart(charts.confusion(t, matrix, t("class.confusion", n=len(chosen))), width="stretch",
                          key="class-confusion", config={"staticPlot": True})
        newest = chosen[:GRID]
        # as tall as the chart beside it, scrolling inside: a new drawing grows the grid, never the
        # page, so the corrections below don't move under the teacher's pointer
        with grid.container(height=charts.CONFUSION_HEIGHT, border=False):
            st.markdown(t("class.newest", n=len(newest)))
            st.image([enlarge(image, 56) for image in drawings.images[:GRID]], width=56,
                     caption=[t("class.read_right" if s == i.label else "class.read_wrong", drawn=i.label, read=int(s))
                              for i, s in zip(newest, said[:GRID], strict=True)])

    view()


def recipe_of(t: Text) -> tuple[str, int, int]:
    """The teacher's choices for fine-tuning: which layers learn, epochs, MNIST images replayed."""
    a, b, c = st.columns([2, 1, 1])
    layers = a.radio(t("class.layers"), list(LAYERS), horizontal=True, key="ft_layers",
                     format_func=lambda v: t("class.layers_" + v), help=t("class.layers_help"))
    epochs = b.number_input(t("class.epochs"), 1, 10, EPOCHS, key="ft_epochs")
    replay = c.number_input(t("class.replay"), 0, 60_000, REPLAY, step=500, key="ft_replay",
                            help=t("class.replay_help"))
    return layers, int(epochs), int(replay)


def finetune_report(t: Text, job: Job | None) -> None:
    """Before and after, side by side, once a fine-tuning run has finished."""
    snap = job.snapshot() if job is not None else None
    if snap is None or snap.finetune is None:
        return
    if snap.running:
        st.info(t("class.finetune_running"))
        return
    report = snap.finetune
    before, after = report["before"], report["after"]
    st.markdown(t("class.report", name=snap.name, train=report["train_count"], held=report["held_count"],
                  replay=report["replay"], layers=t("class.layers_" + report["layers"])))
    rows = [(t("class.row_mnist"), before["mnist_accuracy"], after["mnist_accuracy"]),
            (t("class.row_class", n=before["class_count"]), before["class_accuracy"], after["class_accuracy"])]
    st.table([{t("class.col_on"): on, t("class.col_before"): _share(b), t("class.col_after"): _share(a),
               t("class.col_change"): _change(b, a)} for on, b, a in rows])
    if report.get("damaged"):
        st.caption(t("class.report_damaged", n=report["damaged"]))
    if report.get("relabelled") or report.get("excluded"):
        st.caption(t("class.report_moderated", relabelled=report.get("relabelled", 0),
                     excluded=report.get("excluded", 0)))
    st.caption(t("class.report_caption", name=snap.name))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _change(before: float | None, after: float | None) -> str:
    return "–" if before is None or after is None else f"{100 * (after - before):+.2f} pp"
