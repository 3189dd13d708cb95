"""The Train page's results of a finished (or stopped) run: its last epoch's numbers, the confusion
matrix and accuracy per digit on the whole eval split, and its surest mistakes."""
from __future__ import annotations

import streamlit as st

from lenet.classroom.serving import mnist
from lenet.classroom.state import RunState
from lenet.data import pixels
from ui.common.figures import confusion, per_class
from ui.common.i18n import Text
from ui.common.images import enlarge

__all__ = ["results"]

MISTAKES = 24  # the surest mistakes shown, eight to a row


def results(t: Text, snap: RunState) -> None:
    """A finished (or stopped) run's last epoch: the numbers, the confusions, its surest mistakes."""
    st.subheader(t("train.results"))
    ev, last = snap.evaluation, snap.epochs[-1]
    split = t("words." + last["eval_split"])
    cols = st.columns(4)
    cols[0].metric(t("train.final_accuracy", split=split), f"{100 * ev.accuracy:.2f}%")
    cols[1].metric(t("train.final_loss", split=split), f"{ev.loss:.4f}")
    cols[2].metric(t("train.epochs_done"), str(last["epoch"]))
    cols[3].metric(t("train.training_time"), t("words.seconds", s=last["train_s"]))
    left, right = st.columns(2)
    left.plotly_chart(confusion(t, ev.confusion.numpy(), t("train.confusion_all", split=split)), width="stretch")
    right.plotly_chart(per_class(t, ev.per_class), width="stretch")
    if last["eval_split"] == "test":
        st.markdown(t("train.mistakes"))
        test = mnist().test
        wrong = ev.confident_mistakes(test.y, k=MISTAKES)
        for row in range(0, len(wrong), 8):
            for column, i in zip(st.columns(8), wrong[row:row + 8], strict=False):
                column.image(enlarge(pixels(test.x[i])[0], 84), caption=t(
                    "train.mistake", true=int(test.y[i]), said=int(ev.predicted[i]), p=float(ev.confidence[i])))
