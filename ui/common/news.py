"""Parts of a page that change without their user (a run, the board, the class's drawings) wait on
the news rather than a timer: `follow()` draws a part in a fragment with a small component of ours
beside it. The component holds a server-sent-events stream (/_lenet/news, deploy/push.py) and,
when a version moves past the one the part was drawn with, asks Streamlit to rerun that fragment:
one script run, on that tab only, at once. A tab with nothing new sends the server nothing.

Under plain `streamlit run app.py` there is no stream (lenet.classroom.news.streamed()), and a
part polls on the timer it is given, as every part did before push.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from lenet.classroom.news import GRACE_S, NEWS, RETRY_MS, TOPICS, streamed
from lenet.classroom.turns import TURNS
from ui.common.classes import session_class

__all__ = ["HERE", "HIDDEN", "follow"]

HERE = "_here"  # session state: "follow" or "explore" for a student's tab, None for the teacher's
# The components' boxes take no room: a rule of the page (st.html of a style alone draws nothing),
# in force before any of them is drawn. Hidden from their own script first, they showed again each
# time React drew their box anew, and the page below moved by a gap: an open menu closed under it.
HIDDEN = "<style>[class*='st-key-lenet-news-'] {display: none}</style>"

# One EventSource per tab (window.__lenetNews), for every topic of its class, whatever parts its page
# shows: a browser holds at most six connections to a server, and a stream per part (a teacher's
# Train, Class and Build tabs held seven) left the next page's files waiting for ever. Each part
# (one per name, kept across the reruns and page switches that draw it again) compares its own
# topics; the stream closes a second after the last part goes. News waits the part's grace (GRACE_S
# unless the part says otherwise), and then for the end of the tab's own run: that run is most often
# the user's action that made the news, and it draws the part anew with the new versions (a push
# would cut it short: a teacher's open menu on the Class page closed under the pointer as the
# relabel's own news came back). A student's step is never its own action: no grace. A stream the server
# refused (EventSource gives those up) is opened again after RETRY_MS, then less and less often.
_JS = """
const running = () =>
  document.querySelector('[data-testid="stApp"]')?.getAttribute("data-test-script-state") === "running";

// One part's trigger a batch: Streamlit sends the widget updates of one macrotask as one rerun of one
// fragment, so two parts told in the same tick (the board and Try it, as a design finished) reran one:
// the next waits for a macrotask after the flush (queued after it, setTimeout 0 runs after it).
const fire = (tab, send) => {
  tab.line.push(send);
  if (tab.line.length === 1) next(tab);
};
const next = (tab) => {
  tab.line[0]();
  setTimeout(() => { tab.line.shift(); if (tab.line.length) next(tab); }, 0);
};

const open = (tab, wait) => {
  tab.source = new EventSource(tab.url);
  tab.source.onopen = () => { wait = RETRY_MS; };
  tab.source.onmessage = (event) => {
    tab.latest = JSON.parse(event.data);
    Object.values(tab.parts).forEach((part) => part.check());
  };
  tab.source.onerror = () => {  // a stream that drops is reopened by EventSource itself; one refused is not
    if (tab.source.readyState !== EventSource.CLOSED) return;
    const source = tab.source;
    tab.retry = setTimeout(() => { if (tab.source === source) open(tab, Math.min(2 * wait, 60000)); }, wait);
  };
};

export default function ({ data, setTriggerValue }) {
  const tab = (window.__lenetNews ||= { parts: {}, line: [] });
  if (tab.url !== data.url) {  // the tab's first part, or its session joined another class
    tab.source?.close();
    clearTimeout(tab.retry);
    Object.assign(tab, { url: data.url, latest: null });
    open(tab, RETRY_MS);
  }
  const part = (tab.parts[data.id] ||= { mounts: 0 });
  part.mounts += 1;  // a page switch may mount the new one before the old one goes
  part.known = data.versions;  // its own topics' versions, as it was drawn
  const fresh = () => tab.latest
    && Object.keys(part.known).some((t) => t in tab.latest && tab.latest[t] !== part.known[t]);
  part.check = (wait = data.grace) => {  // after its grace, and not while the tab's own script runs
    clearTimeout(part.later);
    part.later = setTimeout(() => {
      if (!fresh()) return;  // drawn anew meanwhile, with these versions
      if (running()) return part.check(GRACE_MS);
      fire(tab, () => {
        if (!fresh()) return;
        part.known = Object.fromEntries(Object.keys(part.known).map((t) => [t, tab.latest[t] ?? part.known[t]]));
        setTriggerValue("news", part.known);
      });
    }, wait);
  };
  part.check();
  return () => {  // unmounted: the part goes, and the stream with the last part, unless drawn again
    part.mounts -= 1;
    setTimeout(() => {
      if (part.mounts > 0 || tab.parts[data.id] !== part) return;
      delete tab.parts[data.id];
      if (Object.keys(tab.parts).length === 0) { tab.source.close(); clearTimeout(tab.retry); tab.url = null; }
    }, 1000);
  };
}
"""
_component = st.components.v2.component(
    "lenet_news", js=_JS.replace("GRACE_MS", str(round(GRACE_S * 1000))).replace("RETRY_MS", str(RETRY_MS)))


def follow(part: Callable[..., None], *args: Any, name: str, topics: tuple[str, ...], every: float | None,
           grace: float = GRACE_S) -> None:
    """Draw `part(*args)` in a fragment that reruns on news of `topics` in the session's class; with
    no stream, every `every` seconds instead (None: never by itself). `name` keeps its component apart.
    `grace`: how long its news waits first (GRACE_S: the news may be of this tab's own action; 0 for
    news no action of the tab's ever makes)."""
    def fragment(*a: Any) -> None:
        TURNS.let_openings_pass()  # drawn in a page's run: the tops waiting go first
        with TURNS.turn(opening=True):  # its push's run takes its turn with the pages' (a part of a page: its own)
            code = session_class()
            drawn = NEWS.versions(code, topics)  # before drawing: a change while it draws is news after it
            part(*a)
            if streamed():
                _listen(name, code, drawn, grace)

    fragment.__qualname__ = f"follow.{name}"  # the fragment's id is made from it: one per name
    st.fragment(run_every=None if streamed() else every)(fragment)(*args)


def _listen(name: str, code: str | None, drawn: dict[str, int], grace: float) -> None:
    here = st.session_state.get(HERE)  # a student's tab: counted as here, following or exploring (ui/lead)
    query = {"topics": ",".join(TOPICS)} | ({"class": code} if code else {}) | ({"here": here} if here else {})
    _component(key=f"lenet-news-{name}", on_news_change=lambda: None,
               data={"id": name, "url": "/_lenet/news?" + urlencode(query), "versions": drawn,
                     "grace": round(grace * 1000)})
