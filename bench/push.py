"""Push in the classroom bench (bench/classroom.py): what a tab does by itself, its news components above all, and
what the bench reads of them.

A `Tab` is what a browser does for its page by itself (bench/classroom.py's Browser is one). Its `Newsreader` does
what a page's news components (ui/common/news.py) do in a browser: the tab's one server-sent-events stream (GET
/_lenet/news, with the page's cookies; chunked, as uvicorn and nginx send it), open while its Session's page has a
component, and each component's push rerun (Session.push: its fragment, with its trigger) when the stream's versions
of its topics differ from the ones it was drawn with (or last pushed), GRACE_S after the news and if they still differ
then, through the tab's one request at a time. News that comes while a push waits or runs is sent once after it (the
server folds a tab's queued reruns of one fragment into one run). A stream that drops is opened again after RETRY_MS,
as EventSource does, and one refused later and later, as the component does; each is an error. The rest reports.
"""
from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bench.servers import App
from deploy.push import CAUSES
from harness.session import News, Run, Session
from lenet.classroom.news import GRACE_S, RETRY_MS

if TYPE_CHECKING:
    from bench.classroom import Browser, Tally

__all__ = ["PUSH_TABLE", "Newsreader", "Tab", "class_runs", "counted", "counts", "idle", "opens_draw", "push_row",
           "reach_cell", "shows_live"]

STOP_WAIT_S = 30.0  # an idle tab waits this long after the teacher's Stop for its push; then it counts as never
Readings = dict[tuple[str, str], Counter[str]]  # (server URL, its session id) -> script runs by cause


class StreamError(RuntimeError):
    """A news stream answered with another status than 200 (EventSource gives up; the component tries later)."""


async def events(base: str, path: str, cookies: str) -> AsyncIterator[dict[str, int]]:
    """The data of each event of the stream at base+path: the versions, now and at each change."""
    where = urlsplit(base)
    reader, writer = await asyncio.open_connection(where.hostname, where.port or 80)
    try:
        head = [f"GET {path} HTTP/1.1", f"Host: {where.netloc}", "Accept: text/event-stream",
                "Cache-Control: no-cache"] + ([f"Cookie: {cookies}"] if cookies else [])
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        status = (await reader.readline()).split()
        headers = {}
        while (line := await reader.readline()).strip():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if len(status) < 2 or status[1] != b"200":
            raise StreamError(f"{path}: {b' '.join(status[1:]).decode('latin-1') or 'no answer'}")
        data: list[str] = []
        async for text in _lines(reader, headers.get("transfer-encoding") == "chunked"):
            if text.startswith("data:"):
                data.append(text[5:].removeprefix(" "))
            elif not text and data:  # a blank line ends an event; ": quiet" comments are skipped
                yield json.loads("\n".join(data))
                data = []
    finally:
        writer.close()


async def _lines(reader: asyncio.StreamReader, chunked: bool) -> AsyncIterator[str]:
    """The body's lines, chunked transfer decoded (uvicorn's and nginx's way of streaming)."""
    buffer = b""
    while True:
        if chunked:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            piece = (await reader.readexactly(size + 2))[:-2] if size else b""  # the chunk, less its CRLF
        else:
            piece = await reader.read(65536)
        if not piece:
            return  # the server closed the stream
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r").decode()


class Newsreader:
    """A tab's news components: its one stream, what it last said, and the pushes it sent."""

    def __init__(self, session: Session, errors: list[str]) -> None:
        self.s, self.errors = session, errors
        self.streams: dict[str, asyncio.Task[None]] = {}  # url -> its reader: one a tab (one a class it was in)
        self.latest: dict[str, dict[str, int]] = {}  # url -> what its stream said last
        self.known: dict[str, dict[str, int]] = {}  # component -> its topics' versions, drawn with or last pushed
        self.seen: dict[str, News] = {}  # component -> the drawing `known` was taken from
        self.woken = asyncio.Event()
        self.pushed: list[tuple[float, float]] = []  # each push rerun: (perf_counter as its news was taken, as done)

    def drawn(self) -> None:
        """After each run: as in the component's JS, a component drawn anew knows the versions it was
        drawn with; the tab's stream opens with its first component and closes with its last."""
        urls = {news.url for news in self.s.news.values()}
        for url in set(self.streams) - urls:
            self.streams.pop(url).cancel()
            self.latest.pop(url, None)
        for url in urls - set(self.streams):
            self.streams[url] = asyncio.create_task(self._read(url))
        for name, news in self.s.news.items():
            if self.seen.get(name) is not news:
                self.seen[name], self.known[name] = news, news.versions
        self.woken.set()

    def listening(self) -> bool:
        """The stream has said its versions once (it is open, as a page's is once it shows)."""
        return all(url in self.latest for url in self.streams)

    async def _read(self, url: str) -> None:
        wait = RETRY_MS / 1000
        while True:
            try:
                async for versions in events(self.s.url, url, self.s.cookies):
                    self.latest[url], wait = versions, RETRY_MS / 1000
                    self.woken.set()
                self.errors.append(f"news stream {url} closed")
            except StreamError as err:  # refused: opened again later and later, as the component does
                self.errors.append(f"news stream {err}")
                wait = min(2 * wait, 60.0)
            except (OSError, ValueError, asyncio.IncompleteReadError) as err:
                self.errors.append(f"news stream {url}: {type(err).__name__}: {err}")
            await asyncio.sleep(wait)  # as the stream tells EventSource to

    def _fresh(self, name: str) -> dict[str, int] | None:
        """Component `name`'s topics as its stream says them, if any differs from what it knows."""
        news, known = self.s.news.get(name), self.known.get(name, {})
        latest = self.latest.get(news.url, {}) if news is not None else {}
        fresh = any(t in latest and latest[t] != v for t, v in known.items())
        return {t: latest.get(t, v) for t, v in known.items()} if fresh else None

    def _news(self) -> str | None:  # a component whose stream says other versions of its topics than it knows
        return next((n for n in self.s.news if self._fresh(n) is not None), None)

    async def _push(self, name: str, versions: dict[str, int]) -> Run:  # unless its component went meanwhile
        return await self.s.push(name, versions) if name in self.s.news else Run(0.0)

    async def pushes(self, send: Callable[[Coroutine[Any, Any, Run]], Awaitable[Any]],
                     until: Callable[[], float]) -> None:
        """Send each component's news through `send` (the tab's socket, one request at a time) until
        the tab closes (`until()`, which may change); then close its stream."""
        try:
            while (now := time.perf_counter()) < (end := until()):
                if self._news() is None:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self.woken.wait(), None if math.isinf(end) else end - now)
                    self.woken.clear()
                    continue
                taken, first = time.perf_counter(), self.s.news.get(self._news() or "")
                await asyncio.sleep(first.grace if first else GRACE_S)  # as its component waits, then looks again:
                if (name := self._news()) is None:  # drawn anew meanwhile, or gone with its page
                    continue
                self.known[name] = versions = self._fresh(name)  # told once, as the JS does
                await send(self._push(name, versions))
                self.pushed.append((taken, time.perf_counter()))
        finally:
            for task in self.streams.values():
                task.cancel()


class Tab:
    """A Session plus what a browser does for its page by itself: each timed fragment's automatic rerun
    at its own interval (`tick`), and its news components' streams and pushes (`news`). One request at
    a time (`send`): the server queues a tab's too."""

    def __init__(self, session: Session, until: float, errors: list[str], seen: Callable[[Run], None] | None) -> None:
        self.s, self.errors, self.seen = session, errors, seen  # seen: told of each run
        self.lock, self.changed = asyncio.Lock(), asyncio.Event()
        self.due: dict[str, float] = {}  # fragment id -> when its next automatic rerun is sent
        self.news = Newsreader(session, errors)
        self.until = until

    @property
    def until(self) -> float:
        """When the tab closes (perf_counter); set it earlier to close it: its timers and streams stop
        now (a request in flight is answered first)."""
        return self._until

    @until.setter
    def until(self, when: float) -> None:
        self._until = when
        self.changed.set()
        self.news.woken.set()

    async def send(self, request: Coroutine[Any, Any, Run], full: bool = False) -> tuple[Run, float]:
        """(the run, seconds it waited for the socket). After a full run, its page's timers start afresh;
        after any, `tick` looks at them again (a push's or a timer's rerun may have become a full run)."""
        asked = time.perf_counter()
        try:
            await self.lock.acquire()
        except asyncio.CancelledError:  # the tab closed while this waited: its request is never sent
            request.close()
            raise
        try:
            waited = time.perf_counter() - asked
            run = await request  # a coroutine starts only when awaited: here, with the socket
            self.news.drawn()  # any run may draw a news component, or a full one leave it out
            if full:
                now = time.perf_counter()
                self.due = {f: now + every for f, every in self.s.timers.items()}
            self.changed.set()
        finally:
            self.lock.release()
        self.errors += run.exceptions()
        if self.seen:
            self.seen(run)
        return run, waited

    async def open(self, page: str) -> Run:
        return (await self.send(self.s.open(page), full=True))[0]

    async def _auto(self, fid: str) -> Run:  # a timer's rerun, unless the page (its timers) changed meanwhile
        return await self.s.rerun(fragment=fid, auto=True) if fid in self.s.timers else Run(0.0)

    async def tick(self) -> None:
        """Rerun each timed fragment (auto) at its own interval until self.until."""
        while (now := time.perf_counter()) < self.until:
            timers = dict(self.s.timers)  # the Session keeps the page's latest (a rerun may have become a full one)
            self.due = {f: self.due.get(f, now + every) for f, every in timers.items()}
            fid = min(self.due, key=self.due.get, default=None)
            wake = min(self.due[fid] if fid else self.until, self.until)
            if wake > now:
                with suppress(TimeoutError):  # woken early when a full run changes the timers
                    await asyncio.wait_for(self.changed.wait(), None if math.isinf(wake) else wake - now)
                self.changed.clear()
                continue
            self.due[fid] = max(self.due[fid] + timers[fid], now)  # setInterval's pace; no burst after a stall
            await self.send(self._auto(fid))


async def opens_draw(b: Browser) -> None:
    """Draw, and its news stream open (at most 10 s), as a page's is once it shows."""
    await b.open("draw")
    for _ in range(200):
        if b.news.listening():
            return
        await asyncio.sleep(0.05)


async def idle(b: Browser, opened: asyncio.Event, over: asyncio.Event, stopped: asyncio.Event) -> None:
    """A tab left on Draw from before the teacher's Start to the class's end: its news or timers only. Notes when
    its first push and first "live" run came after Start; with news, it stays until the Stop's push is done."""
    lives: list[tuple[float, float]] = []
    b.seen = lambda run: lives.append((time.perf_counter(),) * 2) if shows_live(run) else None
    try:
        await opens_draw(b)
    finally:
        opened.set()
    await over.wait()
    if b.news.seen:  # it had news components: the baseline's pages poll instead
        await stopped.wait()
        b.tally.stop_reach.append(await first(b.news.pushed, b.tally.stopped_at, STOP_WAIT_S))
        b.tally.push_reach.append(await first(b.news.pushed, b.tally.started_at))
    b.until = 0.0  # the tab closes
    b.tally.live_reach.append(await first(lives, b.tally.started_at))


async def first(runs: list[tuple[float, float]], since: float | None, wait_s: float = 0.0) -> float | None:
    """Seconds from `since` to the end of the first of `runs` (started, ended) started after it, waiting up to
    wait_s from `since` for one to end; None if none (or no `since`)."""
    while since is not None and not (after := [end for start, end in runs if start > since]) and \
            time.perf_counter() < since + wait_s:
        await asyncio.sleep(0.05)
    return after[0] - since if since is not None and after else None


def counted(url: str, app: App) -> list[str]:
    """The servers whose /_lenet/counts count the class: the one, or each replica behind nginx (ports after its)."""
    if not isinstance(app, tuple):
        return [url]
    host, port = url.rsplit(":", 1)
    return [f"{host}:{int(port) + i}" for i in range(1, app[1] + 1)]


def shows_live(run: Run) -> bool:
    """The run drew the picker with the live model among its options."""
    return any("live" in option for box in run.of("selectbox") for option in box.options)


def counts(urls: list[str]) -> Readings | None:
    """/_lenet/counts of each server (a replica each, behind nginx); None where there is none (a baseline)."""
    found: Readings = {}
    for url in urls:
        try:
            with urllib.request.urlopen(url + "/_lenet/counts", timeout=10) as answer:
                report = json.loads(answer.read())
        except (urllib.error.URLError, ValueError):  # HTTPError (404) is a URLError
            return None
        if not isinstance(report, dict) or "sessions" not in report:
            return None  # a page, not our JSON
        found |= {(url, sid): Counter(c) for sid, c in report["sessions"].items()}
    return found


def window(start: Readings | None, end: Readings | None, among: set[tuple[str, str]] | None = None) -> Counter[str]:
    """Script runs by cause between two readings, of the sessions in `among` (None: all)."""
    total: Counter[str] = Counter()
    for key, now in (end or {}).items():
        if among is None or key in among:
            total.update(now - (start or {}).get(key, Counter()))
    return total


def class_runs(teachers: Readings | None, first: Readings | None,
               last: Readings | None) -> tuple[Counter[str], ...] | None:
    """Script runs in the class's window (between readings `first` and `last`): all, the students'
    (sessions opened since `first`) and the idle tabs' (open at `first`, not in `teachers`)."""
    if teachers is None or first is None or last is None:
        return None
    return (window(first, last), window(first, last, set(last) - set(first)),
            window(first, last, set(first) - set(teachers)))


PUSH_TABLE = ("| app | students | idle tabs | script runs in the class: user · push · timer · other "
              "| per student·min: user · push · timer | per idle tab·min | push reach (Stop): p50 · p95 · max "
              "| after Start: first push p50 · p95 · max | after Start: picker shows live p50 · p95 · max |"
              "\n|---|---|---|---|---|---|---|---|---|")


def push_row(label: str, students: int, idlers: int, tally: Tally, seconds: float) -> str:
    """The class's row of PUSH_TABLE (see bench/classroom.py's docstring)."""
    def per(runs: Counter[str], tabs: int) -> str:
        return " · ".join(f"{runs[c] / tabs / (seconds / 60):.1f}" for c in CAUSES[:3]) if tabs else "–"

    runs = ["–"] * 3
    if tally.runs is not None:
        every, theirs, idles = tally.runs
        runs = [" · ".join(str(every[c]) for c in CAUSES), per(theirs, students), per(idles, idlers)]
    reach = ["– (polls)" if idlers and not t else reach_cell(t) for t in (tally.stop_reach, tally.push_reach)]
    return f"| {label} | {students} | {idlers} | {' | '.join(runs + reach)} | {reach_cell(tally.live_reach)} |"


def reach_cell(times: list[float | None]) -> str:
    """p50 · p95 · max of times in ms (nearest rank), and how many never came; "–" for no times."""
    done = sorted(t for t in times if t is not None)
    if not done:
        return "–" if not times else f"never ({len(times)})"
    p50, p95 = (done[math.ceil(q * len(done)) - 1] for q in (0.5, 0.95))
    never = len(times) - len(done)
    return f"{1000 * p50:.0f} · {1000 * p95:.0f} · {1000 * done[-1]:.0f} ms" + (f" ({never} never)" if never else "")
