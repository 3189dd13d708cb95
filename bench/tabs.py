"""One simulated tab against one real Chromium tab: the messages each sends the server over the same minute.

    python -m bench.tabs [--seconds 60] [--compare OTHER_CHECKOUT]

The class bench (bench/classroom.py) stands for a browser with a Session plus what a page does by itself
(bench/push.py's Tab: its timers, its news streams and push reruns). This bench checks that stand-in against the
thing itself. Each app gets a fresh server (`make run`'s, an empty runs folder); on it, at once:
- a simulated teacher (bench/classroom.py's `teacher`) opens Train;
- one real tab (Debian's Chromium, headless, Playwright) and one simulated tab (bench/classroom.py's Browser, run
  by its `visit`, exactly as the class bench runs an idle tab) open Draw, and are left alone: neither draws;
- QUIET_S later the teacher starts the default recipe for EPOCHS epochs, so epochs end (and news goes out)
  throughout; after --seconds it presses Stop; STOP_S later everything closes.
Counted, for each tab, from just before Start to the close: every message it sent on its Streamlit websocket,
filed by deploy/push.cause_of as the server's /_lenet/counts files it (user · push · timer · other, "other" being a
message that runs no script). The real tab's are read as Chromium sends them (Playwright's framesent); the
simulated tab's as its Session sends them (its websocket's send, wrapped), since a baseline has no /_lenet/counts.
--compare PATH runs another checkout's app first (its own .venv, started from PATH): rows "baseline" and "current".
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench.classroom import Browser, Tally, teacher, visit
from bench.push import opens_draw
from deploy.push import CAUSES, cause_of
from harness.browser import CHROMIUM, FLAGS, RUN_COUNTER, open_page
from harness.servers import app_server
from lenet.files import ROOT

QUIET_S = 2.0  # both tabs sit this long before Start: what a page sends as it loads falls outside the window
STOP_S = 3.0  # after Stop, this long for its news to reach both tabs before they close
OPEN_S = 120.0  # the bound on a tab opening Draw (a real one starts Chromium first), on a loaded machine
Sent = list[tuple[float, str]]  # each message a tab sent: (perf_counter as it went, its cause)


def chromium_tab(url: str, shown: threading.Event, closing: threading.Event) -> Sent:
    """A real tab on /draw, left alone until `closing`: each message it sent. Sets `shown` once its page
    is drawn (or it failed). Runs in a thread of its own: Playwright's sync API beside the bench's event loop."""
    sent: Sent = []

    def framesent(payload: bytes | str) -> None:  # Streamlit's frames are binary; a text one is filed as "other"
        sent.append((time.perf_counter(), cause_of(payload if isinstance(payload, bytes) else payload.encode())))

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            context.add_init_script(RUN_COUNTER)  # open_page's settle reads the runs it counts
            page = context.new_page()
            page.on("websocket", lambda ws: ws.on("framesent", framesent))
            open_page(page, f"{url}/draw", "Draw")
            shown.set()
            while not closing.is_set():
                page.wait_for_timeout(200)  # the sync API hands over Chromium's events only while it is called
            browser.close()
    finally:
        shown.set()  # the bench goes on, and finds this thread's error when it asks for its messages
    return sent


async def left_alone(b: Browser, sent: Sent, opened: asyncio.Event, closed: asyncio.Event) -> None:
    """The simulated tab: Draw, left alone as bench/push.py's `idle` leaves it, but open until `closed` (the
    real tab's end too), so both are counted over the same window; each message its Session sends goes in `sent`."""
    ws = b.s._ws  # the socket's own send sees every message, whichever Session method sent it
    send = ws.send

    async def noted(message: Any, *args: Any, **kwargs: Any) -> None:
        sent.append((time.perf_counter(), cause_of(message)))
        await send(message, *args, **kwargs)

    ws.send = noted
    try:
        await opens_draw(b)
    finally:
        opened.set()
    await closed.wait()
    b.until = 0.0  # the tab closes: its timers and streams stop


async def side_by_side(url: str, seconds: float) -> tuple[Sent, Sent, Tally, tuple[float, float]]:
    """The teacher's run with a real and a simulated tab on Draw: (the real tab's messages, the simulated
    tab's, the class's tally, the window counted (perf_counter))."""
    tally = Tally()
    bench_sent: Sent = []  # the simulated tab's messages, as left_alone notes them
    ready, go, started, over, stopped, opened, closed = (asyncio.Event() for _ in range(7))
    shown, closing = threading.Event(), threading.Event()
    teaching = asyncio.create_task(visit(url, math.inf, tally, lambda b: teacher(b, ready, go, started, over, stopped),
                                         tally.saw))
    await ready.wait()  # the teacher's Train is open first, as in the class bench
    real = asyncio.create_task(asyncio.to_thread(chromium_tab, url, shown, closing))
    simulated = asyncio.create_task(visit(url, math.inf, tally, lambda b: left_alone(b, bench_sent, opened, closed)))
    try:
        await asyncio.wait_for(opened.wait(), OPEN_S)
        if not await asyncio.to_thread(shown.wait, OPEN_S):
            raise RuntimeError(f"Chromium did not show Draw within {OPEN_S:.0f} s")
        if real.done():
            await real  # its error, if Chromium could not open the page
        await asyncio.sleep(QUIET_S)
        start = time.perf_counter()  # just before Start
        go.set()
        await started.wait()
        await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - start)))
        over.set()  # the teacher presses Stop
        await teaching  # its Stop answered (or it failed: its errors are in the tally)
        await asyncio.sleep(STOP_S)
        end = time.perf_counter()
    finally:
        closing.set()
        closed.set()
        over.set()
    chromium = await real
    await asyncio.gather(teaching, simulated)
    return chromium, bench_sent, tally, (start, end)


def counted(sent: Sent, window: tuple[float, float]) -> Counter[str]:
    """The messages sent inside the window, by cause."""
    return Counter(cause for at, cause in sent if window[0] <= at <= window[1])


def row(app: str, tab: str, causes: Counter[str], window: tuple[float, float]) -> str:
    cells = [str(causes[c]) for c in CAUSES] + [str(causes.total()), f"{window[1] - window[0]:.1f} s"]
    return f"| {app} | {tab} | " + " | ".join(cells) + " |"


def epochs_seen(tally: Tally) -> str:
    """How far the teacher's run got, from its page's progress bar: pushes come as epochs end."""
    return f"{tally.progress[-1][1]:.1f} epochs" if tally.progress else "no progress seen"


def machine() -> str:
    """The line bench/classroom.py prints of the machine: figures from another one don't compare."""
    cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
               if line.startswith("model name"))
    return (f"Machine: {len(os.sched_getaffinity(0))} cores, {cpu}; load average {os.getloadavg()[0]:.1f} at the "
            f"start (anything else running skews the timers' pace, and so the counts)")


def run_app(label: str, app: Path, seconds: float, report: Callable[[str], None]) -> list[str]:
    """Both tabs on a fresh server of checkout `app`: their rows; notes (errors, the run's progress) go to `report`."""
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp), app=app) as server:
        chromium, simulated, tally, window = asyncio.run(side_by_side(server.url, seconds))
    report(f"{label}: the teacher's run reached {epochs_seen(tally)} by Stop; {len(tally.errors)} errors")
    for error in tally.errors[:3]:
        report(f"  {label}: {error}")
    return [row(label, "real Chromium", counted(chromium, window), window),
            row(label, "simulated (bench)", counted(simulated, window), window)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="from Start to Stop")
    parser.add_argument("--compare", type=Path, help="another checkout: run its app too, first")
    args = parser.parse_args()
    apps = {"baseline": args.compare.resolve(), "current": ROOT} if args.compare else {"current": ROOT}
    print(machine())
    rows: list[str] = []
    notes: list[str] = []
    for label, app in apps.items():
        rows += run_app(label, app, args.seconds, notes.append)
    print(f"\nMessages a tab left on Draw sent the server, by cause (deploy/push.cause_of), from just before the "
          f"teacher's Start to {STOP_S:.0f} s after its Stop ({args.seconds:.0f} s later)\n")
    print("| app | tab | user | push | timer | other | total | over |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
