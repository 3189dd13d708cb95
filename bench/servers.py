"""The server a bench's class meets: one app server (`make run`'s), or N replicas of this checkout
behind nginx (`make serve-replicas`, deploy/), with what nginx's log says of sessions moved; and
the peak memory of a server and everything under it."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.replicas import behind_nginx, free_ports, replicas_by_key
from harness.servers import app_server

__all__ = ["moved_keys", "peak_memory", "root_of", "rss_mb", "served"]

App = Path | tuple[Path, int]  # a checkout, or (this checkout, N replicas)


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
    with behind_nginx(app[1], free_ports(app[1]), env={"LENET_RUNS": str(tmp)}, quiet=True) as front:
        yield front.url, tuple(p.pid for p in front.processes), lambda: f"; nginx's log: {moved_keys(front.prefix)}"


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
