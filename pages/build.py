"""Build: change LeNet, and see what each change does to the shapes, the parameters and the work,
before anything is trained."""
import streamlit as st

from lenet.classroom.board import read_budget
from lenet.designs import check
from ui.build import leaderboard, menus, tryit
from ui.common import lesson, router
from ui.common.i18n import text
from ui.common.layers import table_rows

router.enter()
t = text()
st.title(t("build.title"))
st.caption(t("build.intro"))
menus.preset_menu(t)
spec, activation = menus.design_controls(t)
lesson.share_design(spec, activation)  # what Share this setup's link opens
st.markdown(t("build.design_is"))
st.code(spec or "—", language=None)
budget = read_budget()  # the class's limits: a design over them is refused before Try it
found = check(spec, activation, max_params=budget.params, max_multiply_adds=budget.multiply_adds)
if found.problem is not None:
    st.error(t.msg(found.problem), icon=":material/block:")
left, right = st.columns(2)
left.metric(t("build.params"), f"{found.params:,}" if found.whole else "—")
right.metric(t("build.work"), f"{found.multiply_adds:,}" if found.whole else "—",
             help=t("build.work_help"))
if found.rows:
    st.table(table_rows(t, found.rows, work=True))  # as far as the design goes, if it stops
if not lesson.hidden("tryit"):
    tryit.try_it(t, spec, activation, possible=found.problem is None)
if not lesson.hidden("board"):
    leaderboard.board(t)
