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

from lenet.classroom.news import GRACE_S, NEWS, streamed
from ui.common.classes import session_class

__all__ = ["HIDDEN", "follow"]

# The components' boxes take no room: a rule of the page (st.html of a style alone draws nothing),
# in force before any of them is drawn. Hidden from their own script first, they showed again each
# time React drew their box anew, and the page below moved by a gap: an open menu closed under it.
HIDDEN = "<style>[class*='st-key-lenet-news-'] {display: none}</style>"

# One EventSource per component, kept across the reruns and page switches that draw it again
# (window.__lenetNews), closed a second after the last of its mounts goes. News waits GRACE_S, and then for the
# end of the tab's own run: that run is most often the user's action that made the news, and it
# draws the part anew with the new versions (a push would cut it short: a teacher's open menu on
# the Class page closed under the pointer as the relabel's own news came back).
_JS = """
const running = () =>
  document.querySelector('[data-testid="stApp"]')?.getAttribute("data-test-script-state") === "running";

export default function ({ data, setTriggerValue }) {
  const all = (window.__lenetNews ||= {});
  let me = all[data.id];
  if (!me || me.url !== data.url) {
    if (me) me.source.close();
    me = all[data.id] = { url: data.url, latest: null };
    me.source = new EventSource(data.url);
    me.source.onmessage = (event) => { me.latest = JSON.parse(event.data); me.check(); };
  }
  me.mounts = (me.mounts || 0) + 1;  // a page switch may mount the new one before the old one goes
  me.known = data.versions;
  const fresh = () => me.latest && Object.keys(me.latest).some((t) => me.latest[t] !== me.known[t]);
  me.check = () => {  // after the grace, and not while the tab's own script runs (lenet.classroom.news.GRACE_S)
    clearTimeout(me.later);
    me.later = setTimeout(() => {
      if (!fresh()) return;  // drawn anew meanwhile, with these versions
      if (running()) return me.check();
      me.known = me.latest;
      setTriggerValue("news", me.known);
    }, GRACE_MS);
  };
  me.check();
  return () => {  // unmounted: close its stream, unless it is drawn again (a rerun, another page)
    me.mounts -= 1;
    setTimeout(() => { if (me.mounts <= 0 && all[data.id] === me) { me.source.close(); delete all[data.id]; } }, 1000);
  };
}
"""
_component = st.components.v2.component("lenet_news", js=_JS.replace("GRACE_MS", str(round(GRACE_S * 1000))))


def follow(part: Callable[..., None], *args: Any, name: str, topics: tuple[str, ...], every: float | None) -> None:
    """Draw `part(*args)` in a fragment that reruns on news of `topics` in the session's class; with
    no stream, every `every` seconds instead (None: never by itself). `name` keeps its component apart."""
    def fragment(*a: Any) -> None:
        code = session_class()
        drawn = NEWS.versions(code, topics)  # before drawing: a change while it draws is news after it
        part(*a)
        if streamed():
            _listen(name, code, topics, drawn)

    fragment.__qualname__ = f"follow.{name}"  # the fragment's id is made from it: one per name
    st.fragment(run_every=None if streamed() else every)(fragment)(*args)


def _listen(name: str, code: str | None, topics: tuple[str, ...], drawn: dict[str, int]) -> None:
    query = {"topics": ",".join(topics)} | ({"class": code} if code else {})
    _component(key=f"lenet-news-{name}", on_news_change=lambda: None,
               data={"id": name, "url": "/_lenet/news?" + urlencode(query), "versions": drawn})
