"""What one stroke costs the server: the CPU a stroke's script run takes, as a class's thirty tabs
make the server pay for it.

    python -m bench.stroke [--strokes 200] [--rounds 3] [--compare OTHER_CHECKOUT]

A fresh server (`make run`'s, an empty runs folder, nothing training) and one session over
Streamlit's websocket (harness/session.py) on Draw, which sends --strokes drawings as the canvas
does after a stroke (redrawn MNIST test digits, bench/classroom.drawings). Measured around those
strokes only: the server process's CPU seconds (user + system, /proc/<pid>/stat; the fork server
and training processes are not the page's), divided by the strokes; and each stroke's wall time
from sending to the end of its run. --compare PATH runs another checkout's app too (its own .venv,
from PATH), in turns with this one, --rounds times: rows "baseline" and "current".
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.classroom import drawings
from harness.servers import app_server
from harness.session import Session
from lenet.files import ROOT

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` itself (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15 of stat(5)


async def strokes(url: str, pid: int, pictures: list[tuple[str, str]], n: int) -> tuple[float, list[float]]:
    """(server CPU seconds per stroke, each stroke's wall seconds) for n strokes on Draw."""
    async with Session(url) as s:
        await s.open("draw")
        for picture, _ in pictures[:5]:  # warm: caches, the calibration, the chart library's first figure
            await s.draw(picture, 1)
        walls, before = [], cpu_s(pid)
        for i in range(n):
            start = time.perf_counter()
            await s.draw(pictures[i % len(pictures)][0], i % 3 + 1)
            walls.append(time.perf_counter() - start)
        return (cpu_s(pid) - before) / n, walls


def one(app: Path, pictures: list[tuple[str, str]], n: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp), app=app) as server:
        return asyncio.run(strokes(server.url, server.pid, pictures, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout: its app too, in turns with this one")
    args = parser.parse_args()
    apps = {"baseline": args.compare.resolve(), "current": ROOT} if args.compare else {"current": ROOT}
    pictures = drawings()
    found: dict[str, list[tuple[float, list[float]]]] = {label: [] for label in apps}
    for _ in range(args.rounds):
        for label, app in apps.items():
            found[label].append(one(app, pictures, args.strokes))
    print(f"{args.strokes} strokes a round, {args.rounds} rounds; load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| app | server CPU per stroke, each round | median | stroke wall time p50 | p95 |")
    print("|---|---|---|---|---|")
    for label, rounds in found.items():
        walls = sorted(w for _, ws in rounds for w in ws)
        per = [1000 * c for c, _ in rounds]
        print(f"| {label} | {', '.join(f'{c:.1f}' for c in per)} ms | {statistics.median(per):.1f} ms | "
              f"{1000 * walls[len(walls) // 2]:.0f} ms | {1000 * walls[int(0.95 * len(walls))]:.0f} ms |")


if __name__ == "__main__":
    main()
