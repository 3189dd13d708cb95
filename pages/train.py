"""Train: pick a recipe, start a run in the background, and watch it learn."""
import streamlit as st

from lenet.classroom.serving import warm_up
from lenet.config import pick_device
from ui.common import lesson, router
from ui.common.i18n import text
from ui.common.teacher import control
from ui.lead import present
from ui.train import learning, live, runs
from ui.train.form import start_form
from ui.train.results import results

router.enter()
t = text()
st.title(t("train.title"))
warm_up()  # start reading MNIST now, so Start doesn't wait for it
who = control()
if present.on():  # on the projector: large type and the class's link on top, the charts next, the form folded
    present.banner(t)
first, second = st.container(), st.container()
recipe, charts = (second, first) if present.on() else (first, second)
with recipe, present.folded(t("train.recipe")):
    st.caption(t("train.intro", device=pick_device()))
    if who.allowed:
        st.caption(t(who.line, env=who.env))
        start_form(t)
    elif who.line is not None:  # a visitor was told why above
        st.info(t(who.line, env=who.env), icon=":material/school:")
with charts:
    live.view(t, who)
    live.details(t, who)

snap = live.current()
if snap and snap.evaluation is not None and not snap.running:
    results(t, snap)
if snap and snap.frames and not snap.running:
    learning.film(t, snap.frames)
if snap and snap.checkpoint is not None and not snap.running and snap.frames:
    learning.strongest_digits(t, str(snap.checkpoint))
if not lesson.hidden("saved"):
    runs.saved_runs_section(t, who, snap)
if not lesson.hidden("compare"):
    runs.compare_section(t)
