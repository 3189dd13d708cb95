"""The class's leaderboard, for the projector: every finished design with both scores, the
scatter of accuracy against parameters with its Pareto front, a way to use any design on Draw
and Explain, and the teacher's budget and clean-up."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from lenet.classroom.board import (
    BUDGET_LIMITS,
    Budget,
    Entry,
    clear_board,
    pareto,
    ranked,
    read_board,
    read_budget,
    remove_entry,
    save_budget,
    skipped,
)
from ui.common.figures import BLUE, LAYOUT, STILL, VERMILLION
from ui.common.i18n import Text
from ui.common.news import follow
from ui.common.teacher import control, session_id

REFRESH_S, STUDENT_REFRESH_S = 5.0, 30.0  # with no news stream: how often a board looks for designs that finished


def board(t: Text) -> None:
    """The ranking, the scatter and the menu of designs to use, redrawn at news of the board (a
    design finished, one taken off, the budget changed). With no news stream, on a timer: every few
    seconds on the projector, every half minute on a student's (thirty boards redrawn every few
    seconds cost the server what a class's drawings need: bench/designs.py). The sidebar's picker
    leaves the board out of its news (see ui/common/picker.watch)."""
    st.subheader(t("board.title"))
    teacher = control().allowed
    follow(ranking, t, name="board", topics=("board",), every=REFRESH_S if teacher else STUDENT_REFRESH_S)
    if teacher:
        teacher_tools(t)


def ranking(t: Text) -> None:
    """The ranking, the scatter and the menu of designs, redrawn as designs finish. Designs
    trained under another budget are ranked apart: a board compares designs, not budgets."""
    entries, budget, lost = ranked(read_board()), read_budget().record(), skipped()
    if lost:
        st.caption(t("board.skipped", n=lost))
    if not entries:
        st.info(t("board.empty"))
        return
    ours = [e for e in entries if e.budget == budget]
    if ours:
        front, newest = pareto(ours), _newest_set(ours)
        st.table(rows(t, ours, front))
        if any(e.class_set != newest and e.class_accuracy is not None for e in ours):
            st.caption(t("board.other_drawings"))
        st.plotly_chart(scatter(t, ours, front), width="stretch", key="board-scatter", config=STILL)
    others = [e for e in entries if e.budget != budget]
    if others:
        with st.expander(t("board.other_budgets", n=len(others))):
            st.table(rows(t, others, set(), budgets=True))
    use_design(t, entries)


def rows(t: Text, entries: list[Entry], front: set[str], budgets: bool = False) -> list[dict[str, Any]]:
    """The board as a table, best first; the hidden test is "–" until the class has drawings, and
    marked † where it was taken on other drawings than the newest design's (the class drew more)."""
    newest = _newest_set(entries)
    me = session_id()
    columns = [t(f"board.col_{c}") for c in ("rank", "nickname", "design", "params", "work", "time", "test",
                                               "class")]
    table = []
    for rank, e in enumerate(entries, 1):
        name = e.nickname + (t("board.you") if e.owner == me else "") + (" ★" if e.name in front else "")
        on_class = "–" if e.class_accuracy is None else f"{e.class_accuracy:.1%} ({e.class_count})" + (
            " †" if e.class_set != newest else "")
        values = (rank, name, f"{e.design} · {e.activation}", f"{e.params:,}", f"{e.multiply_adds:,}",
                  t("words.seconds", s=e.train_s), f"{e.test_accuracy:.2%}", on_class)
        row = dict(zip(columns, values, strict=True))
        if budgets:  # the designs of other budgets: which budget each trained under
            row[t("board.col_budget")] = t("board.budget_of", **e.budget) if e.budget else "–"
        table.append(row)
    return table


def _newest_set(entries: list[Entry]) -> str:
    """The drawings the newest design was scored on (names begin with their time)."""
    return max(entries, key=lambda e: e.name).class_set


def scatter(t: Text, entries: list[Entry], front: set[str]) -> go.Figure:
    """Test accuracy against parameters (log scale), the Pareto front joined by a line."""
    on_front = sorted((e for e in entries if e.name in front), key=lambda e: e.params)
    others = [e for e in entries if e.name not in front]
    fig = go.Figure([
        go.Scatter(x=[e.params for e in others], y=[100 * e.test_accuracy for e in others], mode="markers+text",
                   text=[e.nickname for e in others], textposition="top center", name=t("board.designs"),
                   marker=dict(size=10, color=BLUE, symbol="circle")),
        go.Scatter(x=[e.params for e in on_front], y=[100 * e.test_accuracy for e in on_front],
                   mode="lines+markers+text", text=[e.nickname for e in on_front], textposition="top center",
                   name=t("board.front"), line=dict(color=VERMILLION, dash="dash", shape="hv"),
                   marker=dict(size=14, color=VERMILLION, symbol="star")),
    ])
    fig.update_xaxes(title=t("board.axis_params"), type="log")
    fig.update_yaxes(title=t("board.axis_accuracy"))
    return fig.update_layout(title=t("board.scatter_title"), **(LAYOUT | dict(height=380)))


def use_design(t: Text, entries: list[Entry]) -> None:
    """Pick any design on the board as the model Draw and Explain use (the sidebar's picker)."""
    pick, button = st.columns([3, 1], vertical_alignment="bottom")
    paths = {e.name: str(e.checkpoint()) for e in entries}
    labels = {e.name: f"{e.nickname} · {e.design}" for e in entries}
    pick.selectbox(t("board.use_which"), list(paths), format_func=labels.__getitem__, key="board.use")
    if button.button(t("board.use"), key="board.use_button", on_click=_use, args=(paths,)):
        st.rerun(scope="app")  # a press reruns only this fragment: the sidebar's picker must show it too


def _use(paths: dict[str, str]) -> None:
    """The button's callback: it runs before the picker is drawn, so the picker can be set."""
    chosen = paths.get(st.session_state.get("board.use"))
    if chosen is not None:
        st.session_state["model_key"] = st.session_state["model_picker"] = chosen


def teacher_tools(t: Text) -> None:
    """The class budget, open or closed, and taking designs off the board."""
    with st.expander(t("board.teacher_tools"), icon=":material/school:"):
        budget = read_budget()
        with st.form("board.budget_form", border=False):
            cells = [*st.columns(3), *st.columns(3)]  # images, epochs, seed; the two limits below them
            values = {name: cell.number_input(t(f"board.budget_{name}"), *BUDGET_LIMITS[name], getattr(budget, name))
                      for cell, name in zip(cells, BUDGET_LIMITS, strict=False)}
            opened = st.checkbox(t("board.open"), budget.open)
            if st.form_submit_button(t("board.save_budget")):
                save_budget(Budget(**{k: int(v) for k, v in values.items()}, open=opened))
                st.rerun()
        entries = ranked(read_board())
        if not entries:
            return
        pick, remove = st.columns([3, 1], vertical_alignment="bottom")
        labels = {e.name: f"{e.nickname} · {e.design}" for e in entries}
        chosen = pick.selectbox(t("board.remove_which"), list(labels), format_func=labels.__getitem__,
                                key="board.remove_pick")
        if remove.button(t("board.remove"), key="board.remove"):
            remove_entry(chosen)
            st.rerun()
        sure = st.checkbox(t("board.clear_sure", n=len(entries)), key="board.clear_sure")  # one click loses them all
        if st.button(t("board.clear"), key="board.clear", help=t("board.clear_help"), disabled=not sure):
            clear_board()
            st.rerun()
