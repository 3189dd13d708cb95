"""A class on one server: the teacher trains, N students draw and look inside, all at once.

    python -m bench.classroom [--students 0 10 30 45 60] [--seconds 60]

For each class size a fresh server starts as `make run` does. The teacher's session opens
Train, starts the default recipe (for many epochs) and polls its live charts as the projector
does. Each student's session opens Draw, then draws a digit every 5 s on average (the canvas's
value as the component sends it: a PNG of an MNIST test digit redrawn as a canvas drawing, see
bench/synth.py) and opens Explain one time in five. All sessions speak Streamlit's own websocket
protocol (bench/session.py), so the server does all of its work and no browser renders.

Reported per class size: stroke → Prediction on the server (p50, p95: from sending the canvas
value to the Prediction arriving), errors (exceptions shown, broken connections), wrong answers
(the Prediction differs from lenet5's own answer for that image, computed here), wrong tables
(Explain's layer table differs from lenet5's), the memory of the server with its training
process, and training samples/s while the class works, against the CLI's samples/s for the same
recipe run alone and against the app's with no students (the first class size given).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image
from torchvision.datasets import MNIST

from bench.session import Session, StreamlitError
from bench.synth import REPORT, render
from lenet.checkpoints import CHECKPOINT_DIR, load_checkpoint, load_model
from lenet.data import DEFAULT_ROOT
from lenet.introspect import layer_table
from lenet.predict import classify

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 100  # the teacher's run outlasts the class; it is stopped at the end


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, stroke -> Prediction
    errors: list[str] = field(default_factory=list)
    wrong_answers: int = 0
    wrong_tables: int = 0
    tables: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(runs: Path):
    """`make run`'s server on a free port; yields (url, pid)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ui.serve", "--server.headless", "true", "--server.port",
                             str(port), "--server.address", "127.0.0.1"], cwd=ROOT,
                            env=os.environ | {"LENET_RUNS": str(runs)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before it answered")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.2)
    try:
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """Resident memory of the server and every process under it (fork server, training)."""
    return sum(_rss_kb(p) for p in [pid, *_descendants(pid)]) / 1024


def _rss_kb(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # it ended meanwhile
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)


def _descendants(pid: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def drawings(n: int = 40) -> list[tuple[str, str]]:
    """(the canvas's PNG data URL, lenet5's own answer for it) for n redrawn test digits."""
    test = MNIST(str(DEFAULT_ROOT), train=False)
    model = load_model(CHECKPOINT_DIR / "lenet5.pt")[0]
    rng = np.random.default_rng(7)
    out = []
    for i in rng.choice(np.asarray(REPORT), n, replace=False):
        image = render(test.data[i].numpy(), int(test.targets[i]), int(i), rng, "canvas", "normal", "medium").image
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        out.append((url, str(classify(model, image).digit)))
    return out


def expected_table() -> list[str]:
    return [r.name for r in layer_table(load_model(CHECKPOINT_DIR / "lenet5.pt")[0])] + ["total"]


def table_rows(run) -> list[str] | None:
    """The first column of Explain's layer table, decoded from the Arrow data Streamlit sent."""
    for proto in run.of("table"):  # st.table: Arrow IPC bytes in arrow_data.data
        table = pa.ipc.open_stream(proto.arrow_data.data).read_all()
        if "layer" in table.column_names:
            return [str(v) for v in table.column("layer").to_pylist()]
    return None


async def student(url: str, pictures: list, until: float, tally: Tally, expected: list[str], seed: int) -> None:
    rng = random.Random(seed)
    try:
        async with Session(url) as s:
            tally.errors += (await s.open("draw")).exceptions()
            strokes = 0
            while time.perf_counter() < until:
                await asyncio.sleep(rng.uniform(0, 10))  # one digit every 5 s on average
                if rng.random() < 0.2:  # now and then, a look inside
                    run = await s.open("explain")
                    tally.tables += 1
                    tally.wrong_tables += table_rows(run) != expected
                    tally.errors += run.exceptions()
                    tally.errors += (await s.open("draw")).exceptions()
                picture, answer = rng.choice(pictures)
                strokes = strokes % 3 + 1
                run = await s.draw(picture, strokes)
                tally.latencies.append(run.first_metric_s if run.first_metric_s is not None else run.seconds)
                tally.wrong_answers += run.metric("Prediction") != answer
                tally.errors += run.exceptions()
    except (StreamlitError, OSError) as err:
        tally.errors.append(f"{type(err).__name__}: {err}")


async def teacher(url: str, until: float, started: asyncio.Event, tally: Tally) -> None:
    """Start the default recipe for many epochs, then poll the live charts like the projector."""
    async with Session(url) as s:
        await s.open("train")
        run = await s.rerun(**{"number_input:Epochs": ("int_value", EPOCHS),
                               "button:Start training": ("trigger_value", True)})
        tally.errors += run.exceptions()
        started.set()
        while time.perf_counter() < until:
            live = min(s.timers, key=s.timers.get)  # the fastest timer: the live charts
            await asyncio.sleep(s.timers[live])
            run = await s.rerun(fragment=live, auto=True)
            tally.errors += run.exceptions()
        await s.rerun(**{"button:Stop": ("trigger_value", True)})


async def lesson(url: str, students: int, seconds: float, warm_s: float, pictures, expected) -> tuple[Tally, float]:
    """The teacher starts; after warm_s the class joins for `seconds`. Returns the class's tally
    and the moment (perf_counter) the class joined."""
    tally, started = Tally(), asyncio.Event()
    end = time.perf_counter() + warm_s + seconds
    teaching = asyncio.create_task(teacher(url, end, started, tally))
    await started.wait()
    await asyncio.sleep(warm_s)
    joined = time.perf_counter()
    await asyncio.gather(*(student(url, pictures, end, tally, expected, seed) for seed in range(students)))
    await teaching
    return tally, joined


def training_speed(runs: Path, window: tuple[float, float]) -> float | None:
    """Mean samples/s of the epochs that ended inside `window` (seconds since training began)."""
    saved = list(runs.glob("*.pt"))
    if not saved:
        return None
    history = load_checkpoint(saved[0])["history"]
    began = [0.0] + [e["elapsed_s"] for e in history]  # each epoch begins where the one before ended
    inside = [e["samples_per_s"] for start, e in zip(began, history, strict=False)
              if start >= window[0] and e["elapsed_s"] <= window[1]]
    return statistics.mean(inside) if inside else None


def cli_speed(epochs: int = 3) -> float:
    """The same recipe from the command line, alone: mean samples/s of epochs 2 and on."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "lenet", "train", "--epochs", str(epochs), "--json", "--out",
                               f"{tmp}/cli.pt"], cwd=ROOT, capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    return statistics.mean(r["samples_per_s"] for r in records[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[0, 10, 30, 45, 60])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the class draws")
    parser.add_argument("--warm", type=float, default=6.0, help="seconds of training before the class joins")
    args = parser.parse_args()
    pictures, expected = drawings(), expected_table()
    cli = cli_speed()
    print(f"CLI, alone: {cli:,.0f} samples/s (python -m lenet train, default recipe)\n")
    print("| students | stroke → Prediction p50 | p95 | drawings | errors | wrong answers | wrong tables "
          "| memory | training samples/s | vs the CLI | vs no students |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    alone = None
    for n in args.students:
        with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as (url, pid):
            start = time.perf_counter()
            tally, joined = asyncio.run(lesson(url, n, args.seconds, args.warm, pictures, expected))
            memory = rss_mb(pid)
            speed = training_speed(Path(tmp), (joined - start, joined - start + args.seconds))
        lat = sorted(tally.latencies)
        p50 = f"{1000 * statistics.median(lat):.0f} ms" if lat else "–"
        p95 = f"{1000 * lat[max(0, int(0.95 * len(lat)) - 1)]:.0f} ms" if lat else "–"
        shown = f"{speed:,.0f}" if speed else "–"
        ratio = f"{speed / cli:.0%}" if speed else "–"
        alone = alone or speed
        versus = f"{speed / alone:.0%}" if speed and alone else "–"
        print(f"| {n} | {p50} | {p95} | {len(lat)} | {len(tally.errors)} | {tally.wrong_answers} | "
              f"{tally.wrong_tables} of {tally.tables} | {memory:,.0f} MB | {shown} | {ratio} | {versus} |",
              flush=True)
        for error in tally.errors[:3]:
            print(f"  error: {error}")


if __name__ == "__main__":
    main()
