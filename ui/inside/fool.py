"""Fool the network: an attack on this input (FGSM with an ε slider, or "make it read 8"), shown as
the original, the perturbation and the attacked image with the answers before and after; then
accuracy against ε for the models the class picks. The attacks are lenet/inside/adversarial.py's."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from torch import nn

from lenet.classroom.serving import mnist, pages_first
from lenet.data import mnist_here
from lenet.inside.adversarial import CURVE_DIGITS, EPSILONS, Attacked, accuracy_curve, attack
from ui.common.checkpoints import load_saved
from ui.common.figures import DASHES, LAYOUT, LINES, SYMBOLS
from ui.common.i18n import Text
from ui.common.images import tile
from ui.common.picker import Choice, all_models, saved_as

EPS_MAX, EPS_STEP, EPS_START = 0.5, 0.01, 0.1
TILE = 168


def _picture(pixels01: torch.Tensor) -> np.ndarray:
    """Pixels (28, 28) on the 0..1 scale -> uint8."""
    return (pixels01.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _amplified(a: Attacked) -> tuple[np.ndarray, float]:
    """The perturbation (28, 28) as uint8, mid-grey for no change, black −ε, white +ε; and the gain."""
    gain = 0.5 / a.eps if a.eps > 0 else 1.0
    return _picture(a.perturbation * gain + 0.5), 2 * gain


def attack_view(t: Text, model: nn.Module, x: torch.Tensor, key: str) -> None:
    """Attack the input x (1, 1, 28, 28) with the picked model. `key` keeps two pages' controls apart."""
    kind = st.radio(t("fool.kind"), ("fgsm", "targeted"), horizontal=True, key=f"{key}_kind",
                    format_func=lambda k: t("fool.kind_" + k))
    left, right = st.columns([3, 1])
    eps = left.slider(t("fool.eps"), 0.0, EPS_MAX, EPS_START, EPS_STEP, key=f"{key}_eps", help=t("fool.eps_help"))
    target = right.selectbox(t("fool.target"), range(10), index=8, key=f"{key}_target") if kind == "targeted" else None
    with pages_first():
        a = attack(model, x, eps, target)
    perturbation, gain = _amplified(a)
    before, after = int(np.argmax(a.before)), int(np.argmax(a.after))
    shown = [(_picture(a.original), t("fool.original")), (perturbation, t("fool.perturbation", gain=gain, eps=eps)),
             (_picture(a.attacked), t("fool.attacked"))]
    for column, (image, caption) in zip(st.columns(3), shown, strict=True):
        column.image(tile(image, TILE), caption=caption, width=TILE)
    one, two = st.columns(2)
    for column, label, digit, probs in ((one, "fool.before", before, a.before), (two, "fool.after", after, a.after)):
        column.metric(t(label), str(digit))
        column.caption(t("fool.sure", p=probs[digit]))
    if after != before:
        st.error(t("fool.flipped", before=before, after=after, eps=eps), icon=":material/warning:")
    else:
        st.success(t("fool.held", digit=before, eps=eps))
    if target is not None:
        st.markdown(t("fool.smallest", target=target, eps=a.smallest) if a.smallest is not None else
                    t("fool.never", target=target, most=EPS_MAX))
    st.caption(t("fool.caption"))


@st.cache_data(show_spinner=False, max_entries=32)
def _curve(path: str, mtime: float) -> list[float]:
    """Accuracy against EPSILONS under FGSM on the first CURVE_DIGITS test digits, once per checkpoint file."""
    test = mnist().test.head(CURVE_DIGITS)
    with pages_first():
        return accuracy_curve(load_saved(path), test.x, test.y)


def curves_view(t: Text, choice: Choice) -> None:
    """Accuracy against ε for the picked model and any others the class adds, on one chart."""
    if not mnist_here():  # the curves are measured on MNIST's test digits: said at once, offline
        st.info(t("data.needed"))
        return
    saved = {c.key: c for c, _ in all_models()}
    default = [choice.key] if choice.key in saved else []
    picked = st.multiselect(t("fool.models"), list(saved), default=default, key="fool_models",
                            format_func=lambda k: saved[k].label(t))
    if not picked:
        st.info(t("fool.pick_models"))
        return
    curves = {}
    with st.spinner(t("fool.computing", n=CURVE_DIGITS)):
        for key in picked:
            curves[saved[key].label(t)] = _curve(*saved_as(saved[key]))
    st.plotly_chart(robustness_chart(t, curves), width="stretch", config={"displayModeBar": False})
    st.caption(t("fool.curve_caption", n=CURVE_DIGITS))


def robustness_chart(t: Text, curves: dict[str, list[float]]) -> go.Figure:
    """One line per model: accuracy (%) against ε, each its own colour, dash and marker."""
    fig = go.Figure()
    for i, (name, accuracy) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=list(EPSILONS), y=[100 * a for a in accuracy], name=name, mode="lines+markers",
                                 line=dict(color=LINES[i % len(LINES)], dash=DASHES[i % len(DASHES)]),
                                 marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=8)))
    fig.update_xaxes(title=t("fool.eps_axis"), tickvals=list(EPSILONS))
    fig.update_yaxes(title=t("fool.accuracy_axis"), range=[0, 101])
    return fig.update_layout(title=t("fool.curve_title"), **LAYOUT)
