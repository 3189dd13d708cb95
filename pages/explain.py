"""Explain: LeNet's shapes layer by layer, the size formula to play with, and what the
convolutions see in your drawing."""
import numpy as np
import streamlit as st

from lenet.inside.introspect import describe
from ui.common import lesson, router
from ui.common.figures import pixel_values
from ui.common.i18n import text
from ui.common.picker import selected
from ui.explain import layers, views

router.enter()
t = text()
st.title(t("explain.title"))
model, choice = selected()
if model is None:
    st.warning(t("explain.no_model"))
    st.stop()

rows = layers.table(t, model, choice)
if not lesson.hidden("calculator"):
    layers.calculator(t)
if not lesson.hidden("flatten"):
    layers.flatten(t, rows, choice)

st.subheader(t("explain.inside"))
image, x = views.pick_input(t)
digit = views.answer(t, model, choice, image, x)
views.look_inside(t, model, choice, x, digit, describe(rows))
if not lesson.hidden("numbers") and st.toggle(t("explain.numbers"), key="explain_numbers"):
    st.plotly_chart(pixel_values(t, np.asarray(image)), width="stretch")  # on demand: 784 numbers are slow
