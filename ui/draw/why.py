"""The Draw page's "why this answer": which pixels the answer rests on, and how it holds up when
the same drawing is moved, turned, scaled or thickened."""
from __future__ import annotations

import streamlit as st
from torch import nn

from lenet.classroom.serving import pages_first
from lenet.inside.attribution import corner_case, occlusion, robustness, saliency
from lenet.preprocess import Preprocessed
from ui.common.i18n import Text
from ui.common.images import heat_overlay, tile


def why_this_answer(t: Text, model: nn.Module, drawing: Preprocessed) -> None:
    """Occlusion and gradient maps over the drawing, then the robustness strip."""
    with pages_first():
        occluded = occlusion(model, drawing.tensor)
        gradient = saliency(model, drawing.tensor)
        variants = robustness(model, drawing.centred)
        naive, mnist_style = corner_case(model, drawing.centred)
    st.subheader(t("why.title", digit=occluded.target))
    maps = [(t("why.reads"), tile(drawing.centred, 196)),
            (t("why.occlusion"), heat_overlay(drawing.centred, occluded.map.numpy())),
            (t("why.gradient"), heat_overlay(drawing.centred, gradient.map.numpy()))]
    for column, (caption, image) in zip(st.columns(len(maps)), maps, strict=True):
        column.image(image, caption=caption, width=196)
    st.caption(t("why.caption", digit=occluded.target, p=occluded.prob))

    st.subheader(t("why.strip"))
    for row in range(0, len(variants), 6):
        for column, v in zip(st.columns(6), variants[row:row + 6], strict=False):
            column.image(tile(v.image, 112), width=112)
            column.markdown(f"**{v.digit}** · {v.confidence:.0%}  \n{t.msg(v.name)}")
    st.caption(t("why.strip_caption"))
    left, right = st.columns(2)
    for column, v in ((left, naive), (right, mnist_style)):
        column.image(tile(v.image, 140), width=140)
        column.markdown(f"**{v.digit}** · {v.confidence:.0%}  \n{t.msg(v.name)}")
