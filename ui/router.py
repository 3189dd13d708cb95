"""The router every page runs inside: page config, the sidebar menu, the model picker, the page.

app.py calls `run()`. Streamlit treats a pages/ folder beside app.py as an old-style multipage
app until some session has run st.navigation once (its documented rule), so a first visitor
to /draw gets pages/draw.py run on its own. Two documented pieces keep that invisible:
`client.showSidebarNavigation = false` (.streamlit/config.toml) hides the automatic pages/
listing, so the menu is ours, drawn with st.page_link; and every page starts with `enter()`,
which, when a page is run without the router, runs the router around it instead.
"""
from __future__ import annotations

import threading

import streamlit as st

from lenet.jobs import serving
from ui.models import picker, watch
from ui.teacher import key_box


def pages() -> list[st.Page]:
    """The app's pages, made anew for every run: a StreamlitPage remembers whether the run that
    navigated to it may still run it, so one list shared by concurrent sessions made some of
    them fail with "This page cannot be called directly" (seen with 30 sessions)."""
    return [
        st.Page("pages/home.py", title="LeNet Lab", icon=":material/home:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/monitoring:"),
        st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
        st.Page("pages/explain.py", title="Explain", icon=":material/search:"),
    ]


_inside = threading.local()  # each script run has its own thread: is a page running inside run()?


def run() -> None:
    """Draw the frame shared by every page, then the page the URL asks for."""
    st.set_page_config(page_title="LeNet Lab", page_icon=":material/draw:", layout="wide")
    entries = pages()
    page = st.navigation(entries, position="hidden")
    with st.sidebar:
        for entry in entries:
            st.page_link(entry)
        picker()
        watch()
    key_box()
    _inside.page = True
    try:
        with serving():  # training waits between batches while a page is being drawn
            page.run()
    finally:
        _inside.page = False


def enter() -> None:
    """Called first by every page: inside the router, nothing; run on its own (Streamlit's
    pages/ mode, before any session has run app.py), run the router, which runs this page."""
    if not getattr(_inside, "page", False):
        run()
        st.stop()
