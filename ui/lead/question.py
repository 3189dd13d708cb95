"""A step's question: a student answers it on their own screen; the projector shows the answers as
they come, as a histogram with their count, and Reveal shows the right one, worked out by lenet."""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from lenet.classroom.board import read_board
from lenet.classroom.lead import Led, answer, answers, led, reveal, right_answer, tally
from lenet.classroom.plans import Question, Step
from lenet.files import runs_dir
from ui.common.i18n import Text
from ui.common.picker import selected
from ui.common.teacher import may_write, session_id

__all__ = ["ask", "asked", "histogram", "shown_answer"]


def asked(t: Text, step: Step) -> str:
    """The question, in the reader's language."""
    question = step.question
    return t(f"lead.ask.{question.kind}.{question.ask}", layer=question.layer or "", digit=step.query.get("digit", "0"))


def shown_answer(t: Text, question: Question, value: int | str) -> str:
    """An answer as a page shows it: a number with its thousands marked, a design as its text."""
    return f"{value:,}" if isinstance(value, int) and question.kind == "number" else str(value)


def ask(t: Text, now: Led) -> None:
    """A student's answer: one each, kept on their browser, changeable until Reveal."""
    question, folder, me = now.step.question, runs_dir(), session_id()
    st.markdown(f"**{asked(t, now.step)}**")
    mine = answers(folder, now.serial).get(me)
    if now.revealed:
        _revealed(t, now, mine)
        return
    if not may_write():  # a visitor (an address no teacher opened) answers nothing
        return
    with st.form(f"lead-answer-{now.serial}", border=False):
        given = _widget(t, question, mine, now.serial)
        sent = st.form_submit_button(t("lead.send"))
    if sent:
        refused = answer(folder, now.serial, me, given)
        if refused is not None:
            st.error(t.msg(refused))
            return
        mine = given
    if mine is not None:
        st.success(t("lead.yours", value=shown_answer(t, question, mine)), icon=":material/how_to_vote:")


def _widget(t: Text, question: Question, mine: int | str | None, serial: int) -> int | str | None:
    if question.kind == "number":
        return st.number_input(t("lead.number"), min_value=0, step=1, value=mine if isinstance(mine, int) else None,
                               key=f"lead-number-{serial}")
    if question.kind == "digit":
        return st.segmented_control(t("lead.digit"), list(range(10)), default=mine, key=f"lead-digit-{serial}")
    return st.radio(t("lead.choice"), list(question.choices), key=f"lead-choice-{serial}",
                    index=question.choices.index(mine) if mine in question.choices else None)


def _revealed(t: Text, now: Led, mine: int | str | None) -> None:
    st.info(_answer_line(t, now), icon=":material/lightbulb:")
    if mine is not None:
        st.caption(t("lead.you_said_right" if mine == now.right else "lead.you_said", value=mine))


def _answer_line(t: Text, now: Led) -> str:
    """The revealed answer, as the projector and every student's screen say it."""
    return t("lead.answer_is", value=shown_answer(t, now.step.question, now.right)) if now.right is not None \
        else t("lead.no_answer_yet")


def _reveal(folder: Path) -> None:
    """Reveal's callback: the right answer, worked out now from the step's design, the model the
    projector shows (its digit question), or the class board, and kept for every screen alike."""
    now = led(folder)
    if now is not None and now.step.question is not None:
        model, _ = selected() if now.step.question.kind == "digit" else (None, None)
        reveal(folder, right_answer(now.step, model, read_board()))


def histogram(t: Text, now: Led) -> None:
    """The projector's view of the question: every answer so far, counted, and Reveal."""
    question, given = now.step.question, answers(runs_dir(), now.serial)
    st.markdown(f"### {asked(t, now.step)}")
    counts = tally(given)
    shown = list(question.choices) if question.kind == "choice" else sorted(counts)  # choices in the plan's order
    labels = [shown_answer(t, question, v) for v in shown]
    figure = go.Figure(go.Bar(x=labels, y=[counts.get(v, 0) for v in shown], marker_color="#4c78a8",
                              text=[counts.get(v, 0) for v in shown], textposition="outside"))
    figure.update_layout(title=t("lead.answers", n=len(given)), height=320, bargap=0.5, margin={"t": 50, "b": 40},
                         xaxis={"type": "category", "title": None}, yaxis={"title": t("lead.students"), "dtick": 1})
    st.plotly_chart(figure, width="stretch", key=f"lead-histogram-{now.serial}")
    if now.revealed:
        st.success(_answer_line(t, now), icon=":material/lightbulb:")
    else:
        st.button(t("lead.reveal"), key="lead-reveal", on_click=_reveal, args=(runs_dir(),), type="primary")
