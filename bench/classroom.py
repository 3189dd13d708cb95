"""A class on one server: the teacher trains, N students draw and look inside, all at once.

    python -m bench.classroom [--students 0 10 30 60] [--seconds 60] [--idle N] [--compare OTHER_CHECKOUT]
    python -m bench.classroom --through nginx --replicas 2 --students 60

Each class size gets a fresh server (`make run`'s, empty runs folder). Every visitor is a Session speaking
Streamlit's websocket protocol (harness/session.py): the server does all its work, nothing renders. Each tab also
does what a browser does by itself (bench/push.py's Tab), one request at a time: an automatic rerun of every timed
fragment of its page at that fragment's own interval (the set is taken anew after each run), and for each news
component on its page one server-sent-events stream (GET /_lenet/news, with the page's cookies) and, each time the
stream's versions differ from those the component was drawn with (or last sent), its push rerun (the component's
fragment, with its trigger). Streams open and close as components come and go. A baseline without push has no
news components: its tabs poll on timers.
- The teacher opens Train; N idle tabs (--idle, default 0) open Draw and wait until their streams are open; then
  the teacher starts the default recipe for EPOCHS epochs. While it trains, its page's timers run the live charts
  (0.8 s) and live_details (2 s); its picker waits on the news. It presses Stop as the class's window ends, while
  the students draw on (OVERLAP_S, untimed); the idle tabs do nothing, and stay open until the Stop reached them.
- After --warm s, N students join for --seconds: each opens Draw and draws every 5 s on average, opening Explain
  one time in five. A drawing is the canvas's value as the component sends it: an MNIST test digit from
  tests/synth.REPORT redrawn as a canvas PNG, kept only if this checkout's checkpoints/lenet5.pt reads it right.
Per class size, first table:
- stroke → Prediction p50, p95 (nearest rank: the value at rank ceil(q·n) of the n sorted times), from asking to
  send the canvas value (a timer's or push's rerun in flight on that tab delays it, as in a browser) to the
  Prediction;
- errors (exceptions shown, broken connections or news streams); wrong answers (Prediction ≠ the digit's label);
  wrong tables (Explain's layer table differs in any cell, total included, from layer_table() of the checkpoint);
- the peak RSS of the server and all its descendants, every 0.5 s from its start to the class's end;
- training samples/s over the class window, from the progress bar the teacher's page shows at each tick ("Epoch
  e … batch b/B"), against the CLI's alone (`python -m lenet train --json`, same recipe, epochs 2 and on), both
  wall clock with evaluation; and against the app with no students (the first size given).
Second table, at the end:
- script runs by cause (user · push · timer · other, as deploy/push.py files each message a tab sent) in the class
  window: GET /_lenet/counts of the server (of each replica, behind nginx) as the students join and as they leave,
  the difference, all tabs (the teacher's included); per student·min, of the sessions opened between the two
  readings; per idle tab·min, of the idle tabs' (open at the first reading; not the teacher's, read before they
  opened). "–" where there is no /_lenet/counts (a baseline). A push that reruns the whole page counts once;
- push reach (Stop): from sending the teacher's Stop (its run stops the job, which tells the news at once) to the
  end of each idle tab's first push rerun whose news came after it (with the whole page's run, where the push's
  fragment asked for one); "never" after 30 s (STOP_WAIT_S);
- after Start, first push: the same, from the moment the teacher's Start request is sent (training's start-up,
  seconds, included); both "– (polls)" where the idle tabs had no news components;
- after Start, picker shows live: from Start's moment to the end of each idle tab's first run, pushed or timed,
  that draws the picker offering the live model (an option with "live" in it): the one measure for both rows.
  Each p50 · p95 · max over the idle tabs (nearest rank), and how many never got there.
--compare PATH also runs the app of another checkout (its own .venv and data, started from PATH), interleaved
with this one's for each size: rows "baseline" and "current".
--through nginx runs each class on one server and through nginx in front of --replicas copies (deploy/),
interleaved. Every visitor loads the page, then opens its socket (and its streams) with the cookies it got, as a
browser does; "sessions moved" counts those whose page and socket two replicas answered, and nginx's log, keys
sent to two.
--through nginx with --compare PATH: both checkouts through nginx and --replicas copies, each with its own
deploy/ (PATH's started by its own `python -m deploy.replicas`), interleaved: rows "baseline" and "current".
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import io
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from PIL import Image
from torchvision.datasets import MNIST

from bench.push import PUSH_TABLE, Tab, class_runs, counted, counts, idle, push_row
from bench.servers import App, peak_memory, root_of, served
from harness.session import Run, Session, StreamlitError
from harness.synth import REPORT, render
from lenet.checkpoints import load_model
from lenet.files import CHECKPOINT_DIR, ROOT, data_root
from lenet.inside.introspect import layer_table
from lenet.predict import classify

EPOCHS = 100  # the teacher's run outlasts the class; it is stopped at the end
OVERLAP_S = 5.0  # the students draw on this long after the class's window, while the Stop's news goes out
COLUMNS = ("layer", "type", "output size: (n + 2p − f)/s + 1", "output shape", "parameters")  # Explain's, en.toml
PROGRESS = re.compile(r"Epoch (\d+)\b.*?batch (\d+)/(\d+)")  # the Train page's progress line
Row = tuple[str, ...]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, stroke -> Prediction
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a wrong answer or table was
    wrong_answers: int = 0
    wrong_tables: int = 0
    tables: int = 0
    sessions: int = 0
    moved: int = 0  # sessions whose page and socket were answered by different replicas
    progress: list[tuple[float, float]] = field(default_factory=list)  # (perf_counter, epochs done)
    started_at: float | None = None  # perf_counter when the teacher's Start was sent
    stopped_at: float | None = None  # perf_counter when the teacher's Stop was sent
    push_reach: list[float | None] = field(default_factory=list)  # s, Start -> an idle tab's first push rerun done
    stop_reach: list[float | None] = field(default_factory=list)  # s, Stop -> an idle tab's first push rerun done
    live_reach: list[float | None] = field(default_factory=list)  # s, Start -> an idle tab's picker offers "live"
    runs: tuple[Counter[str], ...] | None = None  # script runs in the class window: all, students', idle tabs'

    def saw(self, run: Run) -> None:
        """Notes the epochs done that a teacher's run shows in its progress bar."""
        for bar in run.of("progress"):
            if m := PROGRESS.search(bar.text):
                epoch, batch, batches = map(int, m.groups())
                self.progress.append((time.perf_counter(), epoch - 1 + batch / batches))

    def epochs_per_s(self, since: float, until: float) -> float | None:
        """Epochs/s between the first and the last progress reading inside the window."""
        inside = [(t, e) for t, e in self.progress if since <= t <= until] or [(0.0, 0.0)]
        (t0, e0), (t1, e1) = inside[0], inside[-1]
        return (e1 - e0) / (t1 - t0) if t1 - t0 >= 1 else None  # none over less than a second


class Browser(Tab):
    """A tab of the class: bench/push.py's Tab, counting what it shows in the class's tally."""

    def __init__(self, session: Session, tally: Tally, until: float, seen: Callable[[Run], None] | None) -> None:
        super().__init__(session, until, tally.errors, seen)
        self.tally = tally


async def visit(url: str, until: float, tally: Tally, act: Callable[[Browser], Awaitable[None]],
                seen: Callable[[Run], None] | None = None) -> None:
    """One browser tab: `act` does what its person does while the page's timers tick and its news comes."""
    try:
        async with Session(url) as s, asyncio.TaskGroup() as group:  # the tasks end before the socket closes
            tally.sessions, tally.moved = tally.sessions + 1, tally.moved + (len(set(s.replicas)) > 1)
            browser = Browser(s, tally, until, seen)
            group.create_task(browser.tick())
            group.create_task(browser.news.pushes(browser.send, lambda: browser.until))
            group.create_task(act(browser))
    except* (StreamlitError, OSError, KeyError) as broken:  # KeyError: a widget it looks for is not on the page
        tally.errors += [f"{type(e).__name__}: {e}" for e in broken.exceptions]


def drawings(n: int = 40) -> list[tuple[str, str]]:
    """(canvas PNG data URL, true label) of n redrawn REPORT digits the reference model reads right."""
    test = MNIST(str(data_root()), train=False)
    model = load_model(CHECKPOINT_DIR / "lenet5.pt")[0]
    rng = np.random.default_rng(7)
    out: list[tuple[str, str]] = []
    for i in rng.permutation(np.asarray(REPORT)):
        label = int(test.targets[i])
        image = render(test.data[i].numpy(), label, int(i), rng, "canvas", "normal", "medium").image
        if classify(model, image).digit != label:
            continue
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        out.append(("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), str(label)))
        if len(out) == n:
            break
    return out


def expected_table() -> list[Row]:
    """Explain's layer table as the page writes it, from the checkpoint file: every cell, and the total."""
    rows = layer_table(load_model(CHECKPOINT_DIR / "lenet5.pt")[0])
    table = [(r.name, r.kind, str(r.formula) if r.formula else "—", " × ".join(map(str, r.out_shape)), str(r.params))
             for r in rows]
    return table + [("total", "", "", "", str(sum(r.params for r in rows)))]


def check_table(run: Run, expected: list[Row], tally: Tally) -> None:
    """Explain's layer table, every cell as text (decoded from the Arrow data Streamlit sent), against `expected`."""
    got = None
    for proto in run.of("table"):  # st.table: Arrow IPC bytes in arrow_data.data
        table = pa.ipc.open_stream(proto.arrow_data.data).read_all()
        if got is None and all(c in table.column_names for c in COLUMNS):
            got = list(zip(*([("" if v is None else str(v)) for v in table.column(c).to_pylist()] for c in COLUMNS),
                           strict=True))
    tally.tables += 1
    if got != expected:
        tally.wrong_tables += 1
        tally.notes.append("wrong table: " + ("no layer table" if got is None else next(
            (f"row {i}: {g} ≠ {e}" for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e),
            f"{len(got)} rows ≠ {len(expected)}")))


async def student(b: Browser, pictures: list[tuple[str, str]], until: float, expected: list[Row], seed: int,
                  timed_until: float = math.inf) -> None:
    rng, strokes, tally = random.Random(seed), 0, b.tally
    await b.open("draw")
    while True:
        await asyncio.sleep(min(rng.uniform(0, 10), until - time.perf_counter()))  # a digit every 5 s on average
        if time.perf_counter() >= until:
            return
        if rng.random() < 0.2:  # now and then, a look inside
            check_table(await b.open("explain"), expected, tally)
            await b.open("draw")
        picture, label = rng.choice(pictures)
        strokes = strokes % 3 + 1
        sent = time.perf_counter()
        run, waited = await b.send(b.s.draw(picture, strokes))
        if sent >= timed_until:
            continue
        tally.latencies.append(waited + (run.first_metric_s if run.first_metric_s is not None else run.seconds))
        if (said := run.metric("Prediction")) != label:
            tally.wrong_answers += 1
            tally.notes.append(f"wrong answer: {said} for a {label}")


async def teacher(b: Browser, ready: asyncio.Event, go: asyncio.Event, started: asyncio.Event,
                  over: asyncio.Event, stopped: asyncio.Event) -> None:
    """Open Train; at `go`, start the default recipe for many epochs; the page's timers poll it like
    the projector until the class is over, then Stop (so no training outlives its server): `stopped`."""
    async def press(button: str, moment: str, **more: tuple[str, object]) -> Run:
        setattr(b.tally, moment, time.perf_counter())  # the socket is ours: the request goes now
        return await b.s.rerun(**more, **{f"button:{button}": ("trigger_value", True)})
    try:
        await b.open("train")
        ready.set()
        await go.wait()
        await b.send(press("Start training", "started_at", **{"number_input:Epochs": ("int_value", EPOCHS)}), full=True)
    finally:
        ready.set()  # the class goes ahead even if this failed: its errors are counted
        started.set()
    await over.wait()
    b.until = 0.0  # the tab closes: its timers and streams stop
    try:
        if "button:Stop" in b.s.widgets:
            await b.send(press("Stop", "stopped_at"), full=True)
    finally:
        stopped.set()


async def lesson(url: str, servers: list[str], students: int, idlers: int, seconds: float, warm_s: float,
                 pictures: list[tuple[str, str]], expected: list[Row]) -> tuple[Tally, float, float]:
    """The teacher opens Train, the idle tabs open Draw, the teacher starts; after warm_s the class joins
    for `seconds`. The tally, and the class's window; script runs counted by `servers` (each replica)."""
    tally, (ready, go, started, over, stopped) = Tally(), (asyncio.Event() for _ in range(5))
    teaching = asyncio.create_task(visit(url, math.inf, tally, lambda b: teacher(b, ready, go, started, over, stopped),
                                         tally.saw))
    await ready.wait()
    teachers = await asyncio.to_thread(counts, servers)  # its session alone, so far
    opened = [asyncio.Event() for _ in range(idlers)]
    idling = [asyncio.create_task(visit(url, math.inf, tally, lambda b, e=e: idle(b, e, over, stopped)))
              for e in opened]
    await asyncio.gather(*(e.wait() for e in opened))
    go.set()
    await started.wait()
    await asyncio.sleep(warm_s)
    first = await asyncio.to_thread(counts, servers)
    end = (joined := time.perf_counter()) + seconds
    after, last = end + OVERLAP_S, []

    async def class_ends() -> None:  # the teacher's Stop (at `over`) while the students draw on
        await asyncio.sleep(seconds)
        last.append(await asyncio.to_thread(counts, servers))
        over.set()
    await asyncio.gather(*(visit(url, after, tally, lambda b, seed=seed: student(b, pictures, after, expected, seed,
                                                                                  timed_until=end))
                           for seed in range(students)), class_ends())
    await asyncio.gather(teaching, *idling)
    tally.runs = class_runs(teachers, first, last[0])
    return tally, joined, end


@functools.cache  # one run per checkout: the replicas run this checkout's code too
def cli_speed(app: Path, epochs: int) -> tuple[float, float]:
    """The default recipe by the CLI of the checkout `app`, alone: (samples/s over epochs 2 and on, wall clock with
    evaluation, as the app's figure is; samples per epoch)."""
    python = sys.executable if app == ROOT else str(app / ".venv/bin/python")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([python, "-m", "lenet", "train", "--epochs", str(epochs), "--json", "--out",
                               f"{tmp}/cli.pt"], cwd=app, capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    samples = records[0]["samples_per_s"] * records[0]["train_s"]  # rate × time: the epoch's size
    return samples * (len(records) - 1) / (records[-1]["elapsed_s"] - records[0]["elapsed_s"]), samples


def row(label: str, n: int, tally: Tally, span: tuple[float, float], cli: tuple[float, float],
        alone: dict[str, float | None], peak: float, logged: str) -> str:
    """The class's row of the first table (see the module's docstring)."""
    rate = tally.epochs_per_s(*span)
    speed = rate * cli[1] if rate else None
    alone.setdefault(label, speed)
    lat = sorted(tally.latencies)
    p50, p95 = (f"{1000 * lat[math.ceil(q * len(lat)) - 1]:.0f} ms" if lat else "–" for q in (0.5, 0.95))
    shown, ratio = (f"{speed:,.0f}", f"{speed / cli[0]:.0%}") if speed else ("– (no progress seen)", "–")
    versus = f"{speed / alone[label]:.0%}" if speed and alone[label] else "–"
    return (f"| {label} | {n} | {p50} | {p95} | {len(lat)} | {len(tally.errors)} | {tally.wrong_answers} | "
            f"{tally.wrong_tables} of {tally.tables} | {peak:,.0f} MB | {shown} | {ratio} | {versus} | "
            f"{tally.moved} of {tally.sessions}{logged} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[0, 10, 30, 60])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the class draws")
    parser.add_argument("--warm", type=float, default=6.0, help="seconds of training before the class joins")
    parser.add_argument("--idle", type=int, default=0, help="tabs left on Draw from before Start to the end")
    parser.add_argument("--cli-epochs", type=int, default=3, help="epochs of the CLI's run alone (2 or more)")
    parser.add_argument("--compare", type=Path, help="another checkout: run its app too, interleaved")
    parser.add_argument("--through", choices=["server", "nginx"], default="server", help="nginx: also via deploy/")
    parser.add_argument("--replicas", type=int, default=2, help="copies behind nginx (with --through nginx)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # a tab's socket and streams, each end: 100 + 30 tabs and
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)  # the servers (inheriting it) pass 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    apps: dict[str, App] = {"baseline": args.compare.resolve(), "current": ROOT} if args.compare else {"current": ROOT}
    if args.through == "nginx":
        apps = {"one server": ROOT, f"nginx, {args.replicas} replicas": (ROOT, args.replicas)}
    if args.through == "nginx" and args.compare:  # both through nginx: the baseline's deploy/ and code, then ours
        apps = {f"baseline, {args.replicas} replicas": (args.compare.resolve(), args.replicas),
                f"current, {args.replicas} replicas": (ROOT, args.replicas)}
    pictures, expected = drawings(), expected_table()
    cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
               if line.startswith("model name"))
    print(f"Machine: {len(os.sched_getaffinity(0))} cores, {cpu}, torch {torch.__version__}; load average "
          f"{os.getloadavg()[0]:.1f} at the start (anything else running skews every figure, the CLI's most)")
    clis = {label: cli_speed(root_of(app), max(2, args.cli_epochs)) for label, app in apps.items()}
    for label, (cli, _) in clis.items():
        print(f"CLI alone ({label}): {cli:,.0f} samples/s (python -m lenet train, default recipe)")
    print("\n| app | students | stroke → Prediction p50 | p95 | drawings | errors | wrong answers | wrong tables "
          "| peak memory | training samples/s | vs the CLI | vs no students | sessions moved |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    alone: dict[str, float | None] = {}
    pushes = [PUSH_TABLE]
    for n in args.students:
        for label, app in apps.items():  # interleaved: a drift in the machine hits both alike
            with tempfile.TemporaryDirectory() as tmp, served(Path(tmp), app) as (url, pids, moved), \
                    peak_memory(*pids) as peak:
                tally, *span = asyncio.run(lesson(url, counted(url, app), n, args.idle, args.seconds, args.warm,
                                                  pictures, expected))
                logged = moved()  # before nginx's folder goes
            print(row(label, n, tally, tuple(span), clis[label], alone, peak[0], logged), flush=True)
            for line in (tally.errors[:3] + tally.notes[:3]):
                print(f"  {label}, {n}: {line}")
            pushes.append(push_row(label, n, args.idle, tally, args.seconds))
    print("\n" + "\n".join(pushes))


if __name__ == "__main__":
    main()
