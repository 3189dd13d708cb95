"""The Class page's fine-tuning: the teacher's recipe (which layers learn, epochs, MNIST replayed),
Start, and the report of a fine-tuning run, before against after, on MNIST and on the class's drawings."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from lenet.classroom.finetune import EPOCHS, REPLAY
from lenet.classroom.jobqueue import JOBS
from lenet.classroom.jobs import JobBusy, finetune_run
from lenet.classroom.state import RunView
from lenet.data import TRAIN_SIZE
from lenet.models import LAYERS
from ui.common.i18n import Text
from ui.common.picker import LIVE, Choice

__all__ = ["finetune_report", "finetune_section", "recipe_of"]


def finetune_section(t: Text, choice: Choice, folder: Path) -> None:
    """Fine-tune the picked saved model on the class's drawings in `folder`, and the last report."""
    st.subheader(t("class.finetune", model=choice.name))
    st.caption(t("class.finetune_caption"))
    if choice.key == LIVE:
        st.info(t("class.finetune_live"))
    else:
        layers, epochs, replay = recipe_of(t)
        if st.button(t("class.finetune_start", model=choice.name), type="primary", key="finetune"):
            try:
                JOBS.start_first(finetune_run(choice.key, folder, layers=layers, epochs=epochs, replay=replay))
                st.success(t("class.finetune_started"))
            except (JobBusy, ValueError) as err:
                st.error(t.error(err))
    finetune_report(t, JOBS.current())


def recipe_of(t: Text) -> tuple[str, int, int]:
    """The teacher's choices for fine-tuning: which layers learn, epochs, MNIST images replayed."""
    a, b, c = st.columns([2, 1, 1])
    layers = a.radio(t("class.layers"), list(LAYERS), horizontal=True, key="ft_layers",
                     format_func=lambda v: t("class.layers_" + v), help=t("class.layers_help"))
    epochs = b.number_input(t("class.epochs"), 1, 10, EPOCHS, key="ft_epochs")
    replay = c.number_input(t("class.replay"), 0, TRAIN_SIZE, REPLAY, step=500, key="ft_replay",
                            help=t("class.replay_help"))
    return layers, int(epochs), int(replay)


def finetune_report(t: Text, job: RunView | None) -> None:
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
