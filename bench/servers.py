"""The server a bench's class meets: one app server (`make run`'s), or N replicas behind nginx
(`make serve-replicas`, deploy/): this checkout's, with what nginx's log says of sessions moved,
or another checkout's (a baseline), started by its own `python -m deploy.replicas`; and the peak
memory of a server and everything under it (Redis included, where there is one)."""
from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.replicas import behind_nginx, free_ports, replicas_by_key, wait_until_up
from deploy.supervise import running
from harness.servers import app_server
from lenet.files import ROOT

__all__ = ["moved_keys", "peak_memory", "root_of", "rss_mb", "served"]

App = Path | tuple[Path, int]  # a checkout, or (a checkout, N replicas behind nginx)


def root_of(app: App) -> Path:
    return app[0] if isinstance(app, tuple) else app


@contextmanager
def served(tmp: Path, app: App) -> Iterator[tuple[str, tuple[int, ...], Callable[[], str]]]:
    """A fresh server with runs in `tmp`: one (a checkout), or (this checkout, N) replicas behind nginx.
    Yields its URL, the pids whose memory counts, and what nginx's log says of sessions moved."""
    if not isinstance(app, tuple):
        with app_server(tmp, app=app) as server:
            yield server.url, (server.pid,), lambda: ""
        return
    if app[0] != ROOT:
        with other_replicas(tmp, *app) as (url, pid):
            yield url, (pid,), lambda: ""
        return
    with behind_nginx(app[1], free_ports(app[1] + 1), env={"LENET_RUNS": str(tmp)}, quiet=True) as front:
        pids = tuple(p.pid for p in front.processes) + (front.process("redis").pid,)
        yield front.url, pids, lambda: f"; nginx's log: {moved_keys(front.prefix)}"


@contextmanager
def other_replicas(tmp: Path, root: Path, replicas: int) -> Iterator[tuple[str, int]]:
    """Another checkout's `python -m deploy.replicas` (its own code for nginx, replicas and what
    they share), with runs in `tmp`: its URL, and its pid (everything it starts is under it)."""
    port = free_ports(replicas + 1)
    command = [str(root / ".venv/bin/python"), "-m", "deploy.replicas", "--replicas", str(replicas),
               "--port", str(port)]
    with running(command, os.environ | {"LENET_RUNS": str(tmp)}, subprocess.DEVNULL, cwd=root) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc)
        for i in range(1, replicas + 1):
            wait_until_up(f"http://127.0.0.1:{port + i}", proc)
        yield url, proc.pid


def moved_keys(prefix: Path) -> str:
    """Sticky keys whose requests went to more than one replica, of all keys, from nginx's log."""
    seen = replicas_by_key(prefix)
    return f"{sum(len(u) > 1 for u in seen.values())} of {len(seen)} keys"


def rss_mb(*pids: int) -> float:
    """Resident memory of the servers and every process under them (fork server, training), from /proc."""
    procs: dict[int, tuple[int, int]] = {}  # pid -> (parent, resident pages)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # the fields after the command's name, which may hold spaces
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        procs[int(stat.parent.name)] = (int(fields[1]), int(fields[21]))
    family, more = set(pids), set(pids)
    while more:  # a generation at a time: the training process is the fork server's child
        more = {p for p, (parent, _) in procs.items() if parent in more} - family
        family |= more
    return sum(procs[p][1] for p in family if p in procs) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextmanager
def peak_memory(*pids: int, every_s: float = 0.5) -> Iterator[list[float]]:
    """Yields [peak MB], kept up to date by a thread sampling rss_mb(*pids) every `every_s`."""
    peak, stop = [rss_mb(*pids)], threading.Event()
    def sample() -> None:  # in a thread: reading /proc would stall the sessions' event loop
        while not stop.wait(every_s):
            peak[0] = max(peak[0], rss_mb(*pids))
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
