"""Push, not poll: the app's own routes beside Streamlit's, in st.App (deploy/asgi.py).

    GET /_lenet/news?class=<code>&topics=run,runs   server-sent events: the topics' versions
        [&here=follow|explore]                      (lenet/classroom/news.py) now, then at each change;
                                                    with `here`, a student's tab, counted present
                                                    (lenet/classroom/presence.py) while it is open
    GET /_lenet/counts                              this machine only: script runs asked for, per
                                                    session and cause (user, push, timer), as JSON

A page's news component (ui/common/news.py) holds the stream and reruns its fragment when a
version moves past the one the page was drawn with. An idle tab sends nothing; the stream sends
a comment every HEARTBEAT_S so that no proxy closes it as idle.

A stopping server waits for every open response to end, and a stream never does: `make run`
hung on Ctrl-C or SIGTERM while a tab was open. uvicorn closes each websocket with code 1012 as it
stops; the first the middleware sees ends every stream (`closing`). A stream of a client with no
websocket ends after STREAM_S at the latest.

`Counted` is the middleware that counts: it reads each message a tab sends on Streamlit's
websocket (a BackMsg) and files a script run under its cause.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from streamlit.proto.BackMsg_pb2 import BackMsg

from lenet.classroom.browsers import COOKIE, address_of, browser_of
from lenet.classroom.news import NEWS, RETRY_MS, TOPICS, listen
from lenet.classroom.presence import PRESENCE
from lenet.classroom.replicas import tell_the_dead
from lenet.files import is_class_code

__all__ = ["CAUSES", "COUNTS", "Counted", "routes"]

HEARTBEAT_S = 25.0  # nginx closes a proxied stream quiet for 60 s (proxy_read_timeout)
STREAM_S = 1800.0  # a stream ends after this and its EventSource opens another (RETRY_MS later): a backstop, below
SHUTDOWN = 1012  # the close code uvicorn gives every websocket when the server stops
MAX_STREAMS = 2000  # one per open tab (ui/common/news.py): a class of 100 holds about 100
CAUSES = ("user", "push", "timer", "other")  # "other": a message that runs no script (a stop, a file's URL)
NEWS_EVENT = '"event": "news"', '"event":"news"'  # a news component's trigger, as json_trigger_value carries it


async def news(request: Request) -> Response:
    code = request.query_params.get("class") or None
    topics = [t for t in request.query_params.get("topics", "").split(",") if t in TOPICS]
    if (code is not None and not is_class_code(code)) or not topics:
        return PlainTextResponse("class: a class code or nothing; topics: some of " + ",".join(TOPICS), 400)
    if NEWS.watching() >= MAX_STREAMS:
        return PlainTextResponse("too many streams", 503, headers={"Retry-After": "10"})
    listen(tick=_tick)  # behind replicas, the other replicas' news too, and a dead one's
    found, here = browser_of(request.cookies.get(COOKIE)), request.query_params.get("here")
    student = (found.id, here == "follow") if found is not None and here in ("follow", "explore") else None
    return StreamingResponse(_events(code, topics, student), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


_closing: list[asyncio.Event] = []  # set once the server stops (one event loop serves the app)


def closing() -> asyncio.Event:
    if not _closing:
        _closing.append(asyncio.Event())
    return _closing[0]


def _tick() -> None:
    """Each second behind replicas: a dead replica's run is news, and this one's tabs are still here."""
    tell_the_dead()
    PRESENCE.share_all()


async def _events(code: str | None, topics: list[str], student: tuple[str, bool] | None):
    """The versions now, then each time they move; a comment when nothing has for HEARTBEAT_S;
    nothing more once the server stops. A student's tab (browser, follows) is here meanwhile."""
    loop, changed, ends = asyncio.get_running_loop(), asyncio.Event(), time.monotonic() + STREAM_S

    def wake() -> None:  # from whichever thread bumped the news
        if not loop.is_closed():
            loop.call_soon_threadsafe(changed.set)

    here = PRESENCE.here(code, *student) if student is not None else contextlib.nullcontext()
    with NEWS.watch(code, topics, wake), here:
        last = None
        yield f"retry: {RETRY_MS}\n\n"
        while not closing().is_set() and time.monotonic() < ends:
            now = NEWS.versions(code, topics)
            if now != last:
                yield f"data: {json.dumps(now)}\n\n"
                last = now
            await _first(changed.wait(), closing().wait(), within=HEARTBEAT_S)
            if not changed.is_set() and not closing().is_set():
                yield ": quiet\n\n"
            changed.clear()


async def _first(*waits, within: float) -> None:
    """Wait until the first of `waits` is done, or `within` seconds."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


class Counts:
    """Script runs asked for, per websocket session and cause. One event loop writes; pages may read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.sessions: dict[int, Counter[str]] = {}

    def open(self) -> int:
        with self._lock:
            self.sessions[session := next(self._ids)] = Counter()
            return session

    def add(self, session: int, cause: str) -> None:
        with self._lock:
            self.sessions[session][cause] += 1

    def report(self) -> dict[str, Any]:
        with self._lock:
            sessions = {str(s): dict(c) for s, c in self.sessions.items()}
        total = Counter()
        for counts in sessions.values():
            total.update(counts)
        return {"sessions": sessions, "total": {c: total.get(c, 0) for c in CAUSES}}


COUNTS = Counts()


def cause_of(raw: bytes) -> str:
    """What made a tab ask: a timer (is_auto_rerun), a push (its news component's trigger), the user."""
    msg = BackMsg()
    try:
        msg.ParseFromString(raw)
    except Exception:  # noqa: BLE001 - not ours to judge: Streamlit answers it
        return "other"
    if msg.WhichOneof("type") != "rerun_script":
        return "other"
    if msg.rerun_script.is_auto_rerun:
        return "timer"
    widgets = msg.rerun_script.widget_states.widgets
    pushed = any(w.WhichOneof("value") == "json_trigger_value" and any(n in w.json_trigger_value for n in NEWS_EVENT)
                 for w in widgets)
    return "push" if pushed else "user"


class Counted:
    """ASGI middleware: counts what each tab sends on Streamlit's websocket (see Counts), and
    notices the server stopping (see `closing`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or not scope.get("path", "").endswith("/_stcore/stream"):
            await self.app(scope, receive, send)
            return
        session = COUNTS.open()

        async def counted() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "websocket.receive" and message.get("bytes"):
                COUNTS.add(session, cause_of(message["bytes"]))
            elif message["type"] == "websocket.disconnect" and message.get("code") == SHUTDOWN:
                closing().set()  # the server stops: let every stream end, or it waits for them for ever
            return message

        await self.app(scope, counted, send)


async def counts(request: Request) -> Response:
    if address_of(request.client.host if request.client else None, request.headers.get("x-forwarded-for")):
        return PlainTextResponse("", 404)  # this machine's own (a bench, a test) only
    return JSONResponse(COUNTS.report())


routes = [Route("/_lenet/news", news), Route("/_lenet/counts", counts)]
