"""Several copies of the app (replicas) behind one proxy, sharing one LENET_RUNS folder, as one
server: one run trains at a time across all of them, and every replica shows it live.

Only when LENET_REPLICA names this replica (deploy/replicas.py sets it): a lone server shares
nothing and does none of this. Everything lives in runs_root()/.training/:

    lock              who trains now: {replica, run, class, who, since}, made whole or not at all
    <class>.run       the class's latest run as its replica last published it: its RunState (no
                      film) and live weights, rewritten atomically about twice a second
    <class>.film      its film (the frames), rewritten every few seconds
    stop-<run>        a Stop pressed on another replica, for the run's own replica to obey

The run's own replica publishes (`Publisher`, called by its Job after each message), and a
thread keeps its lock fresh (`_keep`); the others read (`RemoteJob`, what JOBS.current() hands
out there). A replica that dies leaves a lock nobody refreshes: after STALE_S it no longer
counts. The run and film files are plain data written by torch.save and read with
torch.load(weights_only=True) (plain.py), the lock is JSON: nothing read from the shared folder
ever runs code.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import runs_root, write_atomic
from .plain import frames_from_plain, frames_plain, run_from_plain, run_plain
from .state import RunState, live_model

__all__ = ["Holder", "Publisher", "RemoteJob", "holder", "release", "remote_run", "replica", "take"]

ENV = "LENET_REPLICA"
PUBLISH_EVERY_S = 0.5  # the live charts redraw every 0.8 s: a point is never more than one redraw late
FILM_EVERY_S = 3.0  # frames are big (26 KB each, up to 240): the film is rewritten less often
STALE_S = 30.0  # a lock its replica hasn't refreshed for this long belongs to a replica that died
BEAT_S = 5.0  # how often a live replica refreshes its lock, whether or not its run has news
NO_CLASS = "_"  # the file name of the runs of no class (a class code never starts with "_")


def replica() -> str | None:
    """This replica's name, or None for a lone server."""
    return os.environ.get(ENV) or None


def _folder() -> Path:
    return runs_root() / ".training"


def _run_file(code: str | None, kind: str) -> Path:
    return _folder() / f"{code or NO_CLASS}.{kind}"


# ---- the lock: one run trains at a time, across every replica ----------------------------------

@dataclass(frozen=True)
class Holder:
    """Who holds the training lock."""
    replica: str
    run: str  # the run's name
    class_code: str | None
    teacher: bool  # the teacher's run (Train, Class), else a student's design
    since: float  # time.time() when it was taken


def take(state: RunState, name: str) -> Holder | None:
    """Take the lock for `state`'s run, as replica `name`: None when taken, else who holds it. The
    file appears whole or not at all (written aside, then hard-linked into place, which fails if
    it exists)."""
    mine = Holder(replica=name, run=state.name, class_code=state.class_code, teacher=state.owner is None,
                  since=time.time())
    lock = _folder() / "lock"
    aside = write_atomic(_folder() / f".lock-{mine.replica}-{os.getpid()}", json.dumps(asdict(mine)).encode())
    try:
        for _ in range(2):
            try:
                os.link(aside, lock)
                threading.Thread(target=_keep, args=(mine.run, name), daemon=True, name="lenet-lock").start()
                return None
            except FileExistsError:
                found = holder()
                if found is not None:
                    return found
                lock.unlink(missing_ok=True)  # stale: its replica died (a race here costs one retry)
        return holder() or mine
    finally:
        aside.unlink(missing_ok=True)


def holder() -> Holder | None:
    """Who trains now, on any replica; None if nobody (or only a replica that died)."""
    lock = _folder() / "lock"
    try:
        if time.time() - lock.stat().st_mtime > STALE_S:
            return None
        return Holder(**json.loads(lock.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def release(run: str, name: str) -> None:
    """Give the lock back, if replica `name` holds it for `run`."""
    found = holder()
    if found is not None and found.replica == name and found.run == run:
        (_folder() / "lock").unlink(missing_ok=True)


def _refresh(run: str, name: str) -> bool:
    """Touch the lock if replica `name` holds it for `run`; False once it doesn't."""
    found = holder()
    if found is None or found.replica != name or found.run != run:
        return False
    with contextlib.suppress(OSError):
        os.utime(_folder() / "lock")
    return True


def _keep(run: str, name: str) -> None:
    """Keep the lock fresh while this process lives and holds it: a run busy for a long time
    without news (a slow evaluation on a loaded server) must not look like a replica that died."""
    while _refresh(run, name):
        time.sleep(BEAT_S)


# ---- publishing: the run's own replica --------------------------------------------------------

@dataclass(frozen=True)
class Published:
    replica: str
    state: RunState  # without its frames
    weights: dict | None  # the live model's weights, on the CPU


class Publisher:
    """Writes its Job's run where the other replicas read it, at most every PUBLISH_EVERY_S (and
    always at its start and end), and obeys a Stop pressed elsewhere (the lock is `_keep`'s)."""

    def __init__(self, job: Any, name: str) -> None:
        self.job, self.replica = job, name  # a lenet.classroom.jobs.Job, on replica `name`
        self.published = self.filmed = -math.inf

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.published < PUBLISH_EVERY_S:
            return
        self.published = now
        snap = self.job.snapshot()
        frames, snap = snap.frames, replace(snap, frames=[])
        run = {"replica": self.replica, "state": run_plain(snap), "weights": self.job.live_weights()}
        write_atomic(_run_file(snap.class_code, "run"), lambda f: torch.save(run, f))
        if force or now - self.filmed >= FILM_EVERY_S:
            film = {"name": snap.name, "frames": frames_plain(frames)}
            write_atomic(_run_file(snap.class_code, "film"), lambda f: torch.save(film, f))
            self.filmed = now
        stop = _folder() / f"stop-{snap.name}"
        if stop.exists():
            by = stop.read_text() or None
            stop.unlink(missing_ok=True)
            self.job.stop(by=by)


# ---- reading: every other replica -------------------------------------------------------------

_lock = threading.Lock()
_read: dict[Path, tuple[tuple[int, int], Any]] = {}  # path -> ((mtime_ns, size), what it held): one read per change


def _published(data: dict[str, Any]) -> Published:
    return Published(replica=str(data["replica"]), state=run_from_plain(data["state"]), weights=data["weights"])


def _film(data: dict[str, Any]) -> tuple[str, list]:
    return str(data["name"]), frames_from_plain(data["frames"])


READERS: dict[str, Callable[[dict[str, Any]], Any]] = {"run": _published, "film": _film}


def _load(path: Path) -> Any:
    """What `path` holds, read once per change for every session of this replica: torch.load with
    weights_only (plain data and tensors; a pickle that would run code is refused), then rebuilt.
    A file that can't be read or rebuilt leaves what was read before."""
    try:
        seen = path.stat()
    except OSError:
        return None
    stamp = (seen.st_mtime_ns, seen.st_size)
    with _lock:
        cached = _read.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    try:
        held = READERS[path.suffix[1:]](torch.load(io.BytesIO(path.read_bytes()), map_location="cpu",
                                                   weights_only=True))
    except Exception:  # noqa: BLE001 (any file that isn't ours, damaged, hostile or half-written: refused)
        return cached[1] if cached is not None else None
    with _lock:
        _read[path] = (stamp, held)
    return held


class RemoteJob:
    """A run that trains (or trained) on another replica, as the pages see a Job: snapshot,
    the live model, Stop."""

    def __init__(self, code: str | None) -> None:
        self.code = code

    @property
    def state(self) -> RunState:
        """The run as last published, without its film (what JOBS compares: its start, its class)."""
        return _load(_run_file(self.code, "run")).state

    def snapshot(self) -> RunState:
        published: Published = _load(_run_file(self.code, "run"))
        film = _load(_run_file(self.code, "film"))
        frames = film[1] if film is not None and film[0] == published.state.name else []
        return replace(published.state, frames=list(frames))

    def has_live_model(self) -> bool:
        return _load(_run_file(self.code, "run")).weights is not None

    def live_model(self) -> nn.Module | None:
        """A new model of its own with the weights last published, in eval mode."""
        published: Published = _load(_run_file(self.code, "run"))
        return live_model(published.state.config, published.weights)

    def stop(self, by: str | None = None) -> None:
        """Ask the run's own replica to stop it (it looks at every publish, twice a second)."""
        write_atomic(_folder() / f"stop-{self.snapshot().name}", (by or "").encode())

    def join(self, timeout: float | None = None) -> bool:
        """Wait (at most `timeout` s) until the published run has ended."""
        deadline = time.monotonic() + (timeout if timeout is not None else math.inf)
        while not self.snapshot().status.ended:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True


def remote_run(code: str | None) -> RemoteJob | None:
    """Class `code`'s latest run, if another replica published it; None on a lone server."""
    if replica() is None:
        return None
    published = _load(_run_file(code, "run"))
    if published is None or published.replica == replica():
        return None
    return RemoteJob(code)
