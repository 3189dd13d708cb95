"""The router every page runs inside: page config, the sidebar menu, the model picker, the page.

app.py calls `run()`. Streamlit treats a pages/ folder beside app.py as an old-style multipage
app until some session has run st.navigation once (its documented rule), so a first visitor
to /draw gets pages/draw.py run on its own. Two documented pieces keep that invisible:
`client.showSidebarNavigation = false` (.streamlit/config.toml) hides the automatic pages/
listing, so the menu is ours, drawn with st.page_link; and every page starts with `enter()`,
which, when a page is run without the router, runs the router around it instead.
"""
from __future__ import annotations

import re
import threading

import streamlit as st

from lenet.classroom.serving import pages_first
from lenet.classroom.turns import TURNS
from ui.common import classes, lesson, share
from ui.common.i18n import LANGUAGES, Text, text
from ui.common.links import refused
from ui.common.news import HIDDEN
from ui.common.picker import link_names, watch
from ui.common.startup import prepare
from ui.common.teacher import Access, access, key_box, may_rotate, teaches_every_class
from ui.lead import bar, present
from ui.lead import panel as lead_panel
from ui.lead.steps import publish

# Build's menus (ui/build/menus.py's KEY), the teacher's Lead and Present toggles, and the language: their
# values are the session's while another page is shown, and through a run that ends before they are drawn (a
# step's page switch; a paused student's page, whose sidebar isn't drawn: 中文 turned to English at a9fbbc2)
KEPT = re.compile(r"build\.(preset|activation|typed|convs|fcs|conv[0-9]+\.[a-z_]+|fc[0-9]+\.units)"
                  r"|lead_on|present|lang")


def pages(t: Text) -> list[st.Page]:
    """The app's pages, made anew for every run: a StreamlitPage remembers whether the run that
    navigated to it may still run it, so one list shared by concurrent sessions made some of
    them fail with "This page cannot be called directly" (seen with 30 sessions). Their
    addresses come from the file names (/train, /draw), whatever the language of their titles."""
    return [
        st.Page("pages/home.py", title=t("home.title"), icon=":material/home:", default=True),
        st.Page("pages/train.py", title=t("train.title"), icon=":material/monitoring:"),
        st.Page("pages/draw.py", title=t("draw.title"), icon=":material/draw:"),
        st.Page("pages/explain.py", title=t("explain.title"), icon=":material/search:"),
        st.Page("pages/build.py", title=t("build.title"), icon=":material/construction:"),
        st.Page("pages/class.py", title=t("class.title"), icon=":material/groups:"),
    ]


_inside = threading.local()  # each script run has its own thread: is a page running inside run()?


def run() -> None:
    """Draw the frame shared by every page, then the page the URL asks for. The runs of all sessions take
    turns (lenet.classroom.turns): the page's top first, which says where a led student is, then the rest."""
    with TURNS.turn(opening=True):
        page, allowed, t, entries = _top()
    with TURNS.turn():
        _frame_and_page(page, allowed, t, entries)


def _top() -> tuple[st.Page, Access, Text, list[st.Page]]:
    """What a page shows first; a following student's screen held by Pause shows this alone."""
    st.set_page_config(page_title="LeNet Lab", page_icon=":material/draw:", layout="wide")
    prepare()  # what `make run` did before Streamlit started; once, under plain `streamlit run` too
    lesson.start(link_names)  # the link, on the first run
    st.session_state.setdefault("lang", _browser_language())
    t = text()
    classes.refuse(t, refused(lesson.current()))
    lesson.keep_in_address()
    keep_across_pages()
    allowed = access()  # what this session may do: the sidebar and the visitor's line both ask
    entries = pages(t)
    page = st.navigation(entries, position="hidden")
    st.html(HIDDEN)  # the news components' boxes take no room
    present.large()  # the projector's Present mode: large type on every page
    teaching = allowed is Access.TEACHER
    if teaching:
        lead_panel.opening()  # Back, Next or a plan chose a step: the teacher's page opens it first
    if bar.top(t, teaching):  # a following student's page opens each step; paused, it shows a card alone
        st.stop()
    return page, allowed, t, entries


def _frame_and_page(page: st.Page, allowed: Access, t: Text, entries: list[st.Page]) -> None:
    teaching = allowed is Access.TEACHER
    with st.sidebar:
        if not lesson.hidden("menu") and not bar.steered():  # following the projector, its pages are the teacher's
            for entry in entries:
                st.page_link(entry)
        watch(shown=not lesson.hidden("picker"))  # the model picker, kept fresh by the news
        if not lesson.hidden("lang"):
            language_switch(t)
        shared = share.button(t, page.url_path or "home") if not lesson.hidden("share") else None
        classes.sidebar(t, can_move=teaches_every_class(), teaching=teaching, can_rotate=may_rotate())
        if teaching:
            lead_panel.panel(t)
    key_box()
    if allowed is Access.VISITOR:  # deny by default: the one line that says why nothing is saved
        st.info(t("teacher.visitor"), icon=":material/visibility:")
    share.notes(t)
    _inside.page = True
    TURNS.let_openings_pass()
    try:
        with pages_first():  # training waits between batches while a page is being drawn
            page.run()
        if teaching:
            publish(page.url_path or "home")  # leading, the page the teacher shows is the class's step
    finally:
        _inside.page = False
        if shared is not None:  # the link, once the page has set itself up (Build's design), even if it stopped
            shared()


def keep_across_pages() -> None:
    """Keep Build's menus while another page is shown (on every run, before the page).
    Streamlit deletes a widget's value at the end of any run that did not draw it, so the menus
    came back at their defaults (and a lesson's design half lost); a value the session set itself
    is kept, so each is set again to itself, as Streamlit's docs advise."""
    for key in [k for k in st.session_state if KEPT.fullmatch(k)]:
        st.session_state[key] = st.session_state[key]


def language_switch(t: Text) -> None:
    """English or 中文, for this session: every text, chart and message follows."""
    st.radio(t("app.language"), list(LANGUAGES), key="lang", format_func=LANGUAGES.get, horizontal=True)


def _browser_language() -> str:
    """中文 for a browser that asks for Chinese first, else English."""
    locale = (st.context.locale or "").lower()
    return "zh" if locale.startswith("zh") else "en"


def enter() -> None:
    """Called first by every page: inside the router, nothing; run on its own (Streamlit's
    pages/ mode, before any session has run app.py), run the router, which runs this page."""
    if not getattr(_inside, "page", False):
        run()
        st.stop()
