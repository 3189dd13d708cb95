"""The Draw page's "why this answer": which pixels the answer rests on, and how it holds up when
the same drawing is moved, turned, scaled or thickened."""
from __future__ import annotations

import streamlit as st
from torch import nn

from lenet.attribution import corner_case, occlusion, robustness, saliency
from lenet.jobs import serving
from lenet.preprocess import Preprocessed
from ui import charts
from ui.drawing import tile


def why_this_answer(model: nn.Module, drawing: Preprocessed) -> None:
    """Occlusion and gradient maps over the drawing, then the robustness strip."""
    with serving():
        hidden = occlusion(model, drawing.tensor)
        gradient = saliency(model, drawing.tensor)
        variants = robustness(model, drawing.centred)
        naive, mnist_style = corner_case(model, drawing.centred)
    st.subheader(f"Why {hidden.target}?")
    maps = [("what the model reads", tile(drawing.centred, 196)),
            ("hide a patch: how much does it hurt?", charts.heat_overlay(drawing.centred, hidden.map.numpy())),
            ("gradient: which pixels would change it", charts.heat_overlay(drawing.centred, gradient.map.numpy()))]
    for column, (caption, image) in zip(st.columns(len(maps)), maps, strict=True):
        column.image(image, caption=caption, width=196)
    st.caption(f"Yellow is where the answer comes from. **Hide a patch**: a 6×6 square of MNIST's average pixel "
               f"slides over the input, and each place is coloured by how much the probability of {hidden.target} "
               f"({hidden.prob:.0%} now) drops while it is hidden. **Gradient**: how strongly a small change of each "
               f"pixel would move the score of {hidden.target}. Ink that lights up is ink the answer rests on.")

    st.subheader("Does it still read the same digit?")
    for row in range(0, len(variants), 6):
        for column, v in zip(st.columns(6), variants[row:row + 6], strict=False):
            column.image(tile(v.image, 112), width=112)
            column.markdown(f"**{v.digit}** · {v.confidence:.0%}  \n{v.name}")
    st.caption("Max-pooling forgives a pixel or two of shift; bigger moves, turns and sizes were never in MNIST, "
               "whose digits are all centred and size-normalised. That is why training with augmentation, and "
               "preprocessing a drawing the way MNIST was made, both matter.")
    left, right = st.columns(2)
    for column, v in ((left, naive), (right, mnist_style)):
        column.image(tile(v.image, 140), width=140)
        column.markdown(f"**{v.digit}** · {v.confidence:.0%}  \n{v.name}")
