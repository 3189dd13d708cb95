"""Present mode, for the projector: large type, the Train page's charts on top and its form folded, and
the class's link with its QR code, legible from the back of a room at 1280×720."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ui.common.classes import join_link, qr_code, session_class
from ui.common.i18n import Text

__all__ = ["PRESENT", "banner", "folded", "large", "on", "switch"]

PRESENT = "present"  # the teacher's toggle (kept across pages: ui/common/router.py's KEPT)
# Streamlit sizes its type in rem: a larger root makes every text, widget and gap larger with it.
# Plotly's own fonts are pixels, so the charts' ticks and titles are set larger too.
_LARGE = """<style>
html { font-size: 21px; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; max-width: 100%; }
.js-plotly-plot .main-svg text { font-size: 15px !important; }
.js-plotly-plot .gtitle { font-size: 19px !important; }
</style>"""
QR_SCALE = 5  # pixels a module: 29 modules and a border make ~165 px, read by a phone across a room


def switch(t: Text) -> None:
    """The sidebar's Present mode toggle (the signed-in teacher's)."""
    st.toggle(t("lead.present"), key=PRESENT, help=t("lead.present_help"))


def on() -> bool:
    return bool(st.session_state.get(PRESENT))


def large() -> None:
    """Every page in large type while Present mode is on (the router asks on every run)."""
    if on():
        st.html(_LARGE)


def banner(t: Text) -> None:
    """The class's link and its QR code on top of the page, for students to join by."""
    link = join_link(session_class())
    left, right = st.columns([1, 5], vertical_alignment="center")
    left.image(qr_code(link, scale=QR_SCALE), width=160)
    right.subheader(t("lead.join", link=link), anchor=False)


@contextmanager
def folded(label: str) -> Iterator[None]:
    """In Present mode, the block goes into a closed expander (the form below the charts); else as it is."""
    if on():
        with st.expander(label, expanded=False):
            yield
    else:
        yield
