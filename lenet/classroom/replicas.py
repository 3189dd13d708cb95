"""Several copies of the app (replicas) behind one proxy, as one server: one run trains at a time
across all of them, every replica shows it live, and a replica that dies is survived.

Only when LENET_REPLICA names this replica and REDIS_URL names the store they share (store.py;
deploy/replicas.py sets both): a lone server shares nothing and does none of this.

    lenet:lock               who trains now (a Holder as JSON, with a token only its taker knows),
                             set with NX and a lease of LEASE_S, renewed by its holder only while
                             its run's process lives (`keep`), given back by compare-and-delete
    lenet:run:<class>        the class's latest run: its state as JSON, its tensors (live weights,
                             evaluations) and film as torch.save bytes, read with weights_only
    lenet:stop:<run>:<start> a Stop pressed on another replica, for that run and no later one
    lenet:news:<class>       a channel: what changed (news.py), the run's news among it

A replica that dies stops renewing: its lease lapses within LEASE_S, and every page then shows
its run stopped at its last saved epoch. Nothing read from the store ever runs code.
"""
from __future__ import annotations

import json
import logging
import math
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from torch import nn

from ..messages import Message
from .news import NEWS
from .plain import frames_from_plain, frames_plain, from_bytes, run_from_plain, run_plain, to_bytes
from .state import RunState, Status, live_model
from .store import Down, key, store

__all__ = ["Holder", "Lease", "Publisher", "RemoteJob", "holder", "keep", "remote_run", "replica", "sharing", "take",
           "tell_the_dead"]

ENV = "LENET_REPLICA"
PUBLISH_EVERY_S = 0.5  # the live charts redraw every 0.8 s: a point is never more than one redraw late
FILM_EVERY_S = 3.0  # frames are big (26 KB each, up to 240): the film is written less often
LEASE_S = 10.0  # a lock nobody renews lapses after this: its run's process has ended, or its replica died
RENEW_S = 2.0  # how often the holder renews while its run's process lives
KEEP_S = 24 * 3600  # a published run stays readable for a day after its last news
STOP_S = 600  # a Stop request waits this long for its run to read it
NO_CLASS = "_"  # the key of the runs of no class (a class code never starts with "_")
PROCESS = uuid.uuid4().hex  # this server process: a replica started again is another publisher
LOCK = key("lock")
log = logging.getLogger("lenet.replicas")

# Compare-and-delete, and renew-or-retake: run inside Redis, so no other client comes in between.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = ("local held = redis.call('get', KEYS[1]) "
          "if held == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end "
          "if not held then return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0 end "
          "return 0")  # an empty store (restarted mid-run) gets the lock back from its holder


def replica() -> str | None:
    """This replica's name, or None for a lone server."""
    return os.environ.get(ENV) or None


def sharing() -> str | None:
    """This replica's name when it shares a store with others; None for a lone server."""
    return replica() if store() is not None else None


def _run_key(code: str | None) -> str:
    return key("run", code or NO_CLASS)


def _stop_key(state: RunState) -> str:
    return key("stop", state.name, repr(state.started))


# ---- the lock: one run trains at a time, across every replica ----------------------------------

@dataclass(frozen=True)
class Holder:
    """Who holds the training lock."""
    replica: str
    run: str  # the run's name
    class_code: str | None
    teacher: bool  # the teacher's run (Train, Class), else a student's design
    since: float  # time.time() when it was taken
    owner: str | None = None  # the student whose design it is (one each); None for the teacher's


@dataclass(frozen=True)
class Lease:
    """The lock, as its taker holds it: its value is the Holder with a token no one else knows,
    in the store it was taken from (renewed and given back there, whatever REDIS_URL says later)."""
    value: str
    client: Any = field(default=None, compare=False, repr=False)

    def renew(self) -> bool:
        """Push the lease on LEASE_S (taking the lock again if the store lost it); False once
        another holds it. Raises Down while the store can't be reached."""
        return bool((self.client or store()).eval(_RENEW, 1, LOCK, self.value, int(LEASE_S * 1000)))

    def release(self) -> None:
        """Give the lock back, if it is still ours (never another's that took it after a lapse)."""
        try:
            (self.client or store()).eval(_RELEASE, 1, LOCK, self.value)
        except Down:  # the lease lapses by itself
            pass


def take(state: RunState, name: str) -> Lease | Holder:
    """Take the lock for `state`'s run, as replica `name`: its Lease, or who holds it. Raises
    Down while the store can't be reached."""
    mine = Holder(replica=name, run=state.name, class_code=state.class_code, teacher=state.owner is None,
                  since=time.time(), owner=state.owner)
    value = json.dumps(asdict(mine) | {"token": secrets.token_hex(16)})
    for _ in range(3):  # a holder that lapses between our SET and GET: try again
        if store().set(LOCK, value, nx=True, px=int(LEASE_S * 1000)):
            return Lease(value=value, client=store())
        found = holder()
        if found is not None:
            return found
    raise Down("the training lock changed hands three times in a row")


def holder() -> Holder | None:
    """Who trains now, on any replica; None if nobody (or a replica whose lease lapsed). Raises
    Down while the store can't be reached."""
    raw = store().get(LOCK)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        data.pop("token", None)
        return Holder(**data)
    except (ValueError, TypeError):
        return None


def keep(lease: Lease, alive: Callable[[], bool]) -> threading.Thread:
    """Renew `lease` every RENEW_S while `alive()` (its run's process lives). When the process
    ends, however it ends, the renewing ends, and the lease lapses within LEASE_S."""
    def renew() -> None:
        while alive():
            try:
                if not lease.renew():
                    return  # another replica holds it now: ours lapsed long ago
            except Down:
                pass  # the store is away: try again, the lock is retaken when it is back
            time.sleep(RENEW_S)

    thread = threading.Thread(target=renew, daemon=True, name="lenet-lease")
    thread.start()
    return thread


# ---- publishing: the run's own replica --------------------------------------------------------

class Publisher:
    """Writes its Job's run where the other replicas read it, at most every PUBLISH_EVERY_S (and
    always at its start and end), renews its lease with it, and obeys a Stop pressed elsewhere.
    One write at a time, copy to write: a Stop pressed on this replica and the run's last word
    tell at once from two threads, and the older copy written last left the other replicas
    showing the run stopping, live for ever (tests/classroom/test_replicas.py)."""

    def __init__(self, job: Any, name: str) -> None:
        self.job, self.replica, self.process = job, name, PROCESS  # a lenet.classroom.jobs.Job, on replica `name`
        self.published = self.filmed = -math.inf
        self._writing = threading.Lock()

    def __call__(self, force: bool = False) -> None:
        with self._writing:
            by = self._write(force)
        if by is not None:  # outside the lock: stop() tells again, and so publishes
            self.job.stop(by=by.decode() or None)

    def _write(self, force: bool) -> bytes | None:
        """Write the run as it is now, unless it was written less than PUBLISH_EVERY_S ago; returns
        who asked to stop it elsewhere (None: nobody)."""
        now = time.monotonic()
        if not force and now - self.published < PUBLISH_EVERY_S:
            return None
        self.published = now
        snap = self.job.snapshot()
        frames, snap = snap.frames, replace(snap, frames=[])
        text, tensors = _split(run_plain(snap))
        version = str(time.time_ns())
        fields = {"replica": self.replica, "process": self.process, "version": version, "state": text,
                  "tensors": to_bytes(tensors | {"weights": self.job.live_weights()})}
        if force or now - self.filmed >= FILM_EVERY_S:
            fields |= {"film": to_bytes({"name": snap.name, "frames": frames_plain(frames)}), "film_version": version}
            self.filmed = now
        pipe = store().pipeline(transaction=False)
        pipe.hset(_run_key(snap.class_code), mapping=fields).expire(_run_key(snap.class_code), KEEP_S)
        pipe.getdel(_stop_key(snap))  # the news that it changed: Job.tell(), after this (news.py)
        if self.job.lease is not None:
            pipe.eval(_RENEW, 1, LOCK, self.job.lease.value, int(LEASE_S * 1000))
        return pipe.execute()[2]


def _split(plain: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A run's plain data as JSON, and the parts that hold tensors (its evaluations) apart."""
    tensors = {name: plain[name] for name in ("live", "evaluation")}
    return json.dumps({k: v for k, v in plain.items() if k not in tensors}), tensors


# ---- reading: every other replica -------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    replica: str
    process: str  # the server process that published it
    state: RunState  # without its frames
    weights: dict | None  # the live model's weights, on the CPU


_lock = threading.Lock()
_read: dict[tuple[str, str], tuple[bytes, Any]] = {}  # (run key, part) -> (version, what it held): one read a change


def _published(code: str | None) -> Published | None:
    return _load(_run_key(code), "version", ("replica", "process", "state", "tensors"), _rebuild)


def _film(code: str | None) -> tuple[str, list] | None:
    return _load(_run_key(code), "film_version", ("film",), _film_of)


def _film_of(got: list[bytes]) -> tuple[str, list]:
    data = from_bytes(got[0])
    return str(data["name"]), frames_from_plain(data["frames"])


def _rebuild(got: list[bytes]) -> Published:
    replica_name, process, text, tensor_bytes = got
    tensors = from_bytes(tensor_bytes)
    plain = json.loads(text) | {"live": tensors["live"], "evaluation": tensors["evaluation"]}
    return Published(replica=replica_name.decode(), process=process.decode(), state=run_from_plain(plain),
                     weights=tensors["weights"])


def _load(run: str, version_field: str, parts: tuple[str, ...], rebuild: Callable[[list[bytes]], Any]) -> Any:
    """`parts` of `run`, rebuilt once per version for every session of this replica. While the
    store is away or lost it (restarted empty), or holds something that can't be rebuilt: what
    was read before."""
    with _lock:
        cached = _read.get((run, version_field))
    try:
        version = store().hget(run, version_field)  # a few bytes: the parts (up to 6 MB) only when it changed
        if version is None:
            return cached[1] if cached is not None else None
        if cached is not None and cached[0] == version:
            return cached[1]
        version, *got = store().hmget(run, [version_field, *parts])  # the version that goes with them
        held = rebuild(got)
    except Exception:  # noqa: BLE001 (the store away, or data that isn't ours, damaged or hostile: refused)
        return cached[1] if cached is not None else None
    with _lock:
        _read[(run, version_field)] = (version, held)
    return held


_told_dead: set[tuple[str, str]] = set()  # (run key, run name) whose replica's death this one has told


def tell_the_dead() -> None:
    """A replica that dies tells nobody: a run that the pages here were shown going, on another
    replica that no longer holds the lock, is news of its own ("run", this replica's pages only)."""
    with _lock:
        shown = [(run, held) for (run, part), (_, held) in _read.items() if part == "version"]
    for run, published in shown:
        state = published.state
        if state.status.ended or published.process == PROCESS or (run, state.name) in _told_dead:
            continue
        if not _alive(published):
            _told_dead.add((run, state.name))
            NEWS.bump("run", state.class_code, share=False)


class RemoteJob:
    """A run that trains (or trained) on another replica, as the pages see a Job: snapshot,
    the live model, Stop. A run whose replica died is shown stopped at its last saved epoch."""

    def __init__(self, code: str | None) -> None:
        self.code = code

    @property
    def state(self) -> RunState:
        """The run as last published, without its film (what JOBS compares: its start, its class)."""
        return _published(self.code).state

    def snapshot(self) -> RunState:
        published = _published(self.code)
        film = _film(self.code)
        frames = film[1] if film is not None and film[0] == published.state.name else []
        state = replace(published.state, frames=list(frames))
        return state if state.status.ended or _alive(published) else _server_stopped(state)

    def has_live_model(self) -> bool:
        published = _published(self.code)
        return published.weights is not None and (published.state.status.ended or _alive(published))

    def live_model(self) -> nn.Module | None:
        """A new model of its own with the weights last published, in eval mode; None once its
        replica has died (its saved epochs are on disk)."""
        published = _published(self.code)
        return live_model(published.state.config, published.weights) if self.has_live_model() else None

    def stop(self, by: str | None = None) -> None:
        """Ask the run's own replica to stop it (it looks at every publish, twice a second)."""
        store().set(_stop_key(self.state), by or "", ex=STOP_S)

    def join(self, timeout: float | None = None) -> bool:
        """Wait (at most `timeout` s) until the published run has ended."""
        deadline = time.monotonic() + (timeout if timeout is not None else math.inf)
        while not self.snapshot().status.ended:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True


def _alive(published: Published) -> bool:
    """Its replica still holds the lock for it (while the store is away: assumed so)."""
    try:
        found = holder()
    except Down:
        return True
    return found is not None and found.replica == published.replica and found.run == published.state.name


def _server_stopped(state: RunState) -> RunState:
    """`state` as it ended when its replica died: stopped at its last saved epoch."""
    said = Message("job.server_stopped") if state.checkpoint is None else \
        Message("job.server_stopped_saved", epoch=len(state.epochs), name=state.checkpoint.stem)
    return replace(state, status=Status.STOPPED, message=said, ended=state.ended or time.time())


def remote_run(code: str | None) -> RemoteJob | None:
    """Class `code`'s latest run, if another server process published it; None on a lone server."""
    if sharing() is None:
        return None
    published = _published(code)
    if published is None or published.process == PROCESS:
        return None
    return RemoteJob(code)
