"""Explain's first half: the model's layer table with (n + 2p − f)/s + 1 filled in, the walk in
words, the model as plain PyTorch to take home, the output-size calculator, and the flatten check."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from torch import nn

from lenet.checkpoints import load_model
from lenet.export import pytorch_zip
from lenet.inside.introspect import describe, flatten_size, has_feature_maps, layer_table, lenet_walk, sides
from lenet.shapes import LayerRow, output_size, size_formula
from ui.common.checkpoints import mtime
from ui.common.i18n import Text
from ui.common.layers import table_rows
from ui.common.picker import LIVE, Choice

__all__ = ["calculator", "exported", "flatten", "table"]


def table(t: Text, model: nn.Module, choice: Choice) -> list[LayerRow]:
    """The layer table (plain HTML: readable on a projector, and it can be copied), the download of
    a saved model, and the walk in words; the table's rows."""
    st.subheader(t("explain.layers", model=choice.model))
    rows = layer_table(model)
    st.table(table_rows(t, rows))
    if choice.key != LIVE:  # a saved model: its file can go home as plain PyTorch
        st.download_button(t("explain.download"), exported(choice),
                           file_name=f"{choice.name}-pytorch.zip", mime="application/zip", icon=":material/download:",
                           help=t("explain.download_help"))
    about = describe(rows)
    if choice.model == "design":  # a design from Build: its own walk is the table above, not LeNet-5's
        st.markdown(t("explain.design", walk=" → ".join(str(side) for side in sides(rows)) or "—"))
    elif has_feature_maps(model):
        walk = " → ".join(str(side) for side in sides(rows))
        pool = t("explain.pool." + about["pool"])
        st.markdown(t("explain.walk", walk=walk, pool=pool, activation=about["activation"]))
        st.markdown(t("explain.c5_conv" if about["c5"] == "conv" else "explain.c5_linear"))
    else:
        st.markdown(t("explain.mlp"))
    return rows


def calculator(t: Text) -> None:
    """(n + 2p − f)/s + 1 with four sliders, and what it means when it isn't a whole number."""
    st.subheader(t("explain.calculator"))
    a, b, c, d = st.columns(4)
    n = a.slider(t("explain.n"), 1, 64, 32, key="calc_n")
    f = b.slider(t("explain.f"), 1, 11, 5, key="calc_f")
    p = c.slider(t("explain.p"), 0, 5, 0, key="calc_p")
    s = d.slider(t("explain.s"), 1, 4, 1, key="calc_s")
    size = output_size(n, f, p, s)
    st.markdown(f"### {t.msg(size_formula(n, f, p, s))}")
    if size < 1:
        st.error(t("explain.no_output"))
    elif size != int(size):
        st.warning(t("explain.not_whole", size=size, f=f, s=s, whole=int(size)))
    same = (f - 1) / 2
    st.caption(t("explain.padding", shrink=f - 1) + (t("explain.same_ok", same=same) if same == int(same) else
                                                     t("explain.same_impossible", same=same)))


def flatten(t: Text, rows: list[LayerRow], choice: Choice) -> None:
    """LeNet's walk for another image side or kernel, and whether its flatten still fits the next layer."""
    with st.expander(t("explain.flatten"), expanded=True):
        e, g = st.columns(2)
        side = e.slider(t("explain.image_side"), 8, 64, 28, help=t("explain.image_side_help"), key="flat_side")
        kernel = g.slider(t("explain.conv_kernel"), 1, 9, 5, key="flat_kernel")
        stages, flat = lenet_walk(side, kernel)
        own = flatten_size(rows) if choice.model != "design" else None  # a design isn't LeNet-5 with other sizes
        expected = own or lenet_walk()[1]  # what this LeNet's next layer takes; LeNet-5's for the MLP and designs
        st.table([{t("explain.col_stage"): name, t("explain.col_size"): t.msg(formula), t("explain.col_side"): out}
                  for name, formula, out in stages])
        if flat == expected:
            st.success(t("explain.flat_ok", expected=expected))
        elif flat == 0:
            st.error(t("explain.flat_vanished"))
        else:
            st.error(t("explain.flat_mismatch", side=stages[-1][2], flat=flat, expected=expected))


def exported(choice: Choice) -> bytes:
    """A saved model as a zip of plain PyTorch (lenet/export.py), made once per version of its file."""
    return _zipped(choice.key, mtime(Path(choice.key)), choice.name)


@st.cache_data(max_entries=8, show_spinner=False)
def _zipped(path: str, mtime: float, name: str) -> bytes:
    model, ckpt = load_model(path)  # a copy loaded for it, never the model the sessions share
    return pytorch_zip(model, ckpt, f"{name}-pytorch")
