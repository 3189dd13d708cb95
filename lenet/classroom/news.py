"""What a class's pages show that can change without their user touching them, as versions a page
can wait on instead of polling. Each (class, topic) has a version that only grows:

    run         the class's run began, saved an epoch, has a live model, stopped or ended
    live        the run trains on: new points for its charts (at most every LIVE_EVERY_S)
    runs        the saved runs changed (one deleted, renamed, pruned)
    board       a design finished, was taken off, or the budget changed
    line        a design joined the line, began or ended (Build's Try it)
    collection  a drawing was saved, corrected, left out, or the drawings cleared (the Class page)
    step        the teacher led the class to a step, paused, revealed an answer, or stopped leading
    answers     a student answered the step's question (the projector's histogram)
    here        a student's tab came, went, or chose to follow or explore (presence.py)

    bump("board", code)                  # after the change is on disk
    NEWS.versions(code, ("run", "runs")) # what a page shows it was drawn with
    with NEWS.watch(code, topics, wake) as w: ...  # `wake()` is called (from any thread) on a change

Behind replicas every bump is also published on Redis (`lenet:news:<class>`, the topic and this
process), and `listen()` turns the other replicas' bumps into this process's: a page waits on its
own replica only. Nothing here knows about HTTP; deploy/push.py streams the versions to browsers.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..files import runs_root
from .store import Down, key, store

__all__ = ["GRACE_S", "LIVE_EVERY_S", "NEWS", "NO_CLASS", "ORIGIN", "RETRY_MS", "TOPICS", "News", "bump", "class_of",
           "listen", "serve_news", "streamed"]

TOPICS = ("run", "live", "runs", "board", "line", "collection", "step", "answers", "here")
LIVE_EVERY_S = 1.0  # a watching tab redraws its live charts at most this often (the projector's timer: 0.8 s)
# A tab waits this long after news before it asks for its rerun, and longer while its own script
# runs: the news is most often of the tab's own action, whose run draws the part anew, and the
# stream can be quicker than the websocket that says the run has begun (ui/common/news.py).
GRACE_S = 0.2
RETRY_MS = 2000  # how long a browser waits before it opens a stream again (one that ended, a server restarting)
TICK_S = 1.0  # how often the replicas' news thread looks for news nobody sends
NO_CLASS = "_"  # the news of a server without classes (a class code never starts with "_")
log = logging.getLogger("lenet.news")


@dataclass(frozen=True)
class Watch:
    """One waiter: a page's stream, told of its topics' changes through `wake` (never under a lock of ours)."""
    code: str
    topics: frozenset[str]
    wake: Callable[[], None]


class News:
    """The versions of one server process, and who waits on them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[tuple[str, str], int] = {}
        self._watches: set[Watch] = set()
        self._counter = itertools.count(1)
        self._live: dict[str, float] = {}  # code -> when "live" was last bumped

    def versions(self, code: str | None, topics: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {t: self._versions.get((code or NO_CLASS, t), 0) for t in topics}

    def bump(self, topic: str, code: str | None, share: bool = True) -> bool:
        """A change of `topic` in class `code`: its version grows and its watchers wake. "live" is
        thinned to one bump in LIVE_EVERY_S; returns whether this one counted."""
        if topic not in TOPICS:
            raise ValueError(f"no such news topic: {topic!r}")
        code = code or NO_CLASS
        with self._lock:
            now = time.monotonic()
            if topic == "live" and now - self._live.get(code, -LIVE_EVERY_S) < LIVE_EVERY_S:
                return False
            if topic == "live":
                self._live[code] = now
            self._versions[(code, topic)] = next(self._counter)  # one counter: a version is never reused
            woken = [w for w in self._watches if w.code == code and topic in w.topics]
        for watch in woken:
            watch.wake()
        if share:
            _publish(code, topic)
        return True

    @contextmanager
    def watch(self, code: str | None, topics: Iterable[str], wake: Callable[[], None]) -> Iterator[Watch]:
        """`wake` is called after each change of `topics` in `code` while inside."""
        watch = Watch(code=code or NO_CLASS, topics=frozenset(topics) & set(TOPICS), wake=wake)
        with self._lock:
            self._watches.add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                self._watches.discard(watch)

    def watching(self) -> int:
        with self._lock:
            return len(self._watches)

    def everything(self) -> None:
        """Every topic of every class known here changed (news may have been missed): wake them all."""
        with self._lock:
            codes = {c for c, _ in self._versions} | {w.code for w in self._watches}
        for code in codes:
            for topic in TOPICS:
                self.bump(topic, code, share=False)


NEWS = News()  # the server process's one


def bump(topic: str, code: str | None) -> bool:
    """NEWS.bump: after a change is saved, so a page that reruns on it reads the change."""
    return NEWS.bump(topic, code)


_streamed = threading.Event()


def serve_news() -> None:
    """This server streams the news to its pages (deploy/asgi.py): they wait on it rather than poll."""
    _streamed.set()


def streamed() -> bool:
    """Whether pages may wait on the news: False under plain `streamlit run app.py`, which has no stream."""
    return _streamed.is_set()


def class_of(folder: Path) -> str | None:
    """The class whose folder holds `folder` (runs_root()/classes/<code>/…), None for the runs of no class."""
    where, classes = Path(folder).resolve(), (runs_root() / "classes").resolve()
    return where.relative_to(classes).parts[0] if where.is_relative_to(classes) and where != classes else None


# ---- across replicas -----------------------------------------------------------------------------

ORIGIN = f"{time.time_ns()}-{threading.get_native_id()}"  # this process, so it skips its own news
_listening = threading.Lock()
_listener: list[threading.Thread] = []


def _publish(code: str, topic: str) -> None:
    shared = store()
    if shared is None:
        return
    try:
        shared.publish(key("news", code), f"{topic} {ORIGIN}")
    except Down:  # the other replicas miss it; they wake everything when the store returns
        log.debug("news of %s not shared: the store is down", code)


def listen(tick: Callable[[], None] = lambda: None, news: News = NEWS) -> None:
    """Behind replicas, start (once per process) the thread that brings the other replicas' news
    here, and calls `tick` every TICK_S (news that nobody sends: a replica that died)."""
    if store() is None:
        return
    with _listening:
        if not _listener:
            _listener.append(threading.Thread(target=_relay, args=(news, tick), daemon=True, name="lenet-news"))
            _listener[0].start()


def _relay(news: News, tick: Callable[[], None]) -> None:
    """Subscribe to every class's news; after an outage, wake everything (what was missed is unknown)."""
    missed = False
    while True:
        shared = store()
        try:
            pubsub = shared.pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe(key("news", "*"))
            if missed:
                news.everything()
            missed = False
            while True:  # get_message waits on the socket itself: no read timeout while all is quiet
                if (message := pubsub.get_message(timeout=TICK_S)) is not None:
                    _relayed(news, message)
                _ticked(tick)
        except (Down, OSError, AttributeError):  # AttributeError: REDIS_URL went away (tests)
            missed = True
            time.sleep(1.0)


def _ticked(tick: Callable[[], None]) -> None:
    try:
        tick()
    except Exception:  # noqa: BLE001 - the relay goes on; the store's own failures are Down, caught above
        log.exception("looking for news nobody sends failed")


def _relayed(news: News, message: dict) -> None:
    """One message of another replica: `<topic> <origin>` on lenet:news:<class>."""
    try:
        topic, origin = message["data"].decode().split(" ", 1)
        code = message["channel"].decode().split(":", 2)[2]
    except (KeyError, ValueError, AttributeError, IndexError, UnicodeDecodeError):
        return
    if origin != ORIGIN and topic in TOPICS:
        news.bump(topic, code, share=False)
