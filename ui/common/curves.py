"""A run's accuracy and loss side by side: the Train page's live run, and a student's own design on Build."""
from __future__ import annotations

import streamlit as st

from lenet.classroom.state import RunState
from ui.common.figures import STILL, accuracy_curve, loss_curve, split_of
from ui.common.i18n import Text

__all__ = ["curves"]


def curves(t: Text, snap: RunState | None, key: str = "chart") -> None:
    """The run's curves, still pictures while it trains (they are drawn again every second); empty
    axes before any run. `key` keeps two pages' charts apart."""
    if snap is None:
        batches, probes, epochs, span, split, live = [], [], [], (1, 1), "test", False
    else:
        batches, probes, epochs = snap.batches, snap.probes, snap.epochs
        span, split, live = (snap.first_epoch, snap.last_epoch), split_of(snap.epochs), snap.running
    left, right = st.columns(2)
    config = STILL if live else None
    left.plotly_chart(accuracy_curve(t, batches, probes, epochs, span, split), width="stretch",
                      key=f"{key}-accuracy", config=config)
    right.plotly_chart(loss_curve(t, batches, probes, epochs, span, split), width="stretch",
                       key=f"{key}-loss", config=config)
