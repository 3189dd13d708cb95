"""The signed-in teacher's sidebar: *Lead the class*, a lesson plan with Back and Next, Pause, a
question the walk of the page's design can ask, and the steps shown saved as a new plan."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from lenet.classroom.lead import Led, led, move, pause, start, stop
from lenet.classroom.plans import Plan, PlanError, Question, generated, plan_name, ready_plans, save_plan, saved_plans
from lenet.files import runs_dir
from ui.common import lesson
from ui.common.i18n import Text
from ui.common.teacher import session_id
from ui.lead import present
from ui.lead.question import asked
from ui.lead.steps import BASE, LEADING, open_step

__all__ = ["OPEN", "opening", "panel"]

OPEN = "_lead_open"  # a step the teacher's own page opens on its next run (a callback can't switch pages)
LESSONS = "lessons"  # the class's own plans, in its folder


def plans() -> dict[str, Plan]:
    """The ready plans, then the class's own (a saved plan of the same name comes last, and wins)."""
    return ready_plans() | saved_plans(runs_dir() / LESSONS)


def panel(t: Text) -> None:
    """The teacher's lead controls, in the sidebar."""
    present.switch(t)
    st.toggle(t("lead.toggle"), key=LEADING, on_change=_toggled, help=t("lead.toggle_help"))
    if not st.session_state.get(LEADING):
        return
    now = led(runs_dir())  # None until the page's run has started the lead (steps.publish)
    found = plans()
    st.session_state["lead_plan"] = now.plan if now is not None and now.plan in found else ""  # the class's, as led
    st.selectbox(t("lead.plan"), ["", *found], key="lead_plan", on_change=_chosen, args=(found,),
                 format_func=lambda name: found[name].title if name else t("lead.no_plan"))
    if now is None:
        return
    plan = found.get(now.plan or "")
    if plan is not None and now.index is not None:
        st.caption(t("lead.step_of", i=now.index + 1, n=len(plan.steps)))
        with st.container(horizontal=True):
            st.button(t("lead.back"), key="lead-back", on_click=_go, args=(plan, now.index - 1),
                      disabled=now.index == 0, icon=":material/arrow_back:")
            st.button(t("lead.next"), key="lead-next", on_click=_go, args=(plan, now.index + 1),
                      disabled=now.index + 1 >= len(plan.steps), icon=":material/arrow_forward:", type="primary")
    st.button(t("lead.resume" if now.paused else "lead.pause"), key="lead-pause", on_click=pause,
              args=(runs_dir(), not now.paused), icon=":material/play_arrow:" if now.paused else ":material/pause:")
    _ask(t, now)
    _save(t, now)


def _toggled() -> None:
    """Off: no one leads the class (on: the page's own run starts the lead, steps.publish)."""
    if not st.session_state.get(LEADING):
        stop(runs_dir())
        st.session_state.pop(BASE, None)


def _chosen(found: dict[str, Plan]) -> None:
    name = st.session_state.get("lead_plan")
    if name:
        _go(found[name], 0)


def _go(plan: Plan, index: int) -> None:
    """The class, and this page on its next run, go to the plan's step `index`."""
    if 0 <= index < len(plan.steps):
        where = (runs_dir(), plan.steps[index], plan.name, index, len(plan.steps))
        now = move(*where) if led(runs_dir()) is not None else start(where[0], session_id(), *where[1:])
        st.session_state[OPEN] = now


def opening() -> None:
    """The router, before the page: open the step a Back, Next or plan chose (ends the run)."""
    now: Led | None = st.session_state.pop(OPEN, None)
    if now is not None and st.session_state.get(LEADING):
        st.session_state[BASE] = None  # the page this step opens is the step: publish nothing for it
        open_step(now.step, now.serial)


def _ask(t: Text, now: Led) -> None:
    """Ask the class about the design on the page (Build's, or LeNet-5's)."""
    design = now.step.query.get("design") or (lesson.built() or (None,))[0]
    questions = generated(design)
    with st.expander(t("lead.ask_class")):
        picked = st.selectbox(t("lead.question"), range(len(questions)), key="lead-question",
                              format_func=lambda i: asked(t, replace(now.step, question=questions[i])))
        chosen = questions[picked] if questions else None
        st.button(t("lead.ask_button"), key="lead-ask", on_click=_asked, args=(chosen,))


def _asked(question: Question | None) -> None:
    """The class's step, as it is now (the page may have moved it since the sidebar was drawn), asks `question`."""
    now = led(runs_dir())
    if question is not None and now is not None:
        move(runs_dir(), replace(now.step, question=question), now.plan, now.index, now.total)


def _save(t: Text, now: Led) -> None:
    """The steps shown since Lead began, as a plan of the class's own."""
    with st.expander(t("lead.save", n=len(now.shown))), st.form("lead-save", border=False):
        st.text_input(t("lead.title"), key="lead-title", max_chars=80)
        st.form_submit_button(t("lead.save_button"), on_click=_saved)
    said = st.session_state.pop("_lead_said", None)
    if said is not None:
        st.caption(t(said[0], **said[1]) if isinstance(said, tuple) else t.msg(said))


def _saved() -> None:
    """Save the steps shown as read now: the page's own step may have been added after the sidebar was drawn."""
    title, now = (st.session_state.get("lead-title") or "").strip(), led(runs_dir())
    if now is None:
        return
    if not title:
        st.session_state["_lead_said"] = ("lead.need_title", {})
        return
    plan = Plan(name=plan_name(title), title=title, steps=now.shown)
    try:
        save_plan(runs_dir() / LESSONS, plan)
    except (PlanError, OSError) as err:
        st.session_state["_lead_said"] = err.args[0] if isinstance(err, PlanError) else ("lead.not_saved", {})
        return
    st.session_state["_lead_said"] = ("lead.saved", {"title": plan.title})
