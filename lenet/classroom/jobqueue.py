"""The server's line of training runs: one trains at a time, the teacher's go first, each
class sees its own. `JOBS` is the one line of a server process.

    job = JOBS.start(new_run(config))    # now, or JobBusy if a run is going
    JOBS.enqueue(new_run(other))         # after the runs before it, in order
    JOBS.current()                       # the asking class's run: going now, or its last
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import deque

from ..files import current_class
from ..messages import Message
from . import line, replicas
from .jobs import Job, JobBusy
from .state import RunState, RunView
from .store import Down

__all__ = ["JOBS", "JobQueue", "current_job"]

WATCH_S = 1.0  # how often runs waiting for another replica's run look for its end


def _elsewhere(held: replicas.Holder) -> JobBusy:
    """Another replica trains: say which run, for which class, on which replica."""
    return JobBusy(Message("job.busy_elsewhere", run=held.run, code=held.class_code or "–", replica=held.replica))


class JobQueue:
    """The server's runs: one trains at a time. `start` runs one now (JobBusy if another is going);
    `enqueue` puts one after those waiting, and each starts when the one before it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Job | None = None  # the run going now, or the last one
        self._last: dict[str | None, Job] = {}  # each class's last run to start (None: no class)
        self._waiting: deque[Job] = deque()
        self._watching = False  # a thread looks for another replica's run to end

    def start(self, job: Job) -> Job:
        with self._lock:
            if self._busy():
                raise self._refusal(job)
            return self._begin(job)

    def start_first(self, job: Job) -> Job:
        """The teacher's run (Train, Class): now if nothing trains, or next in line while a
        student's design trains, ahead of every design waiting; JobBusy while a run of the
        teacher's own trains (one at a time, as before designs could queue)."""
        with self._lock:
            there = self._elsewhere()
            here = self._current is not None and self._current.snapshot().running
            if (there is not None and there.teacher) or (here and self._current.state.owner is None):
                raise self._refusal(job)
        job.state.first = True
        return self.enqueue(job)

    def enqueue(self, job: Job) -> Job:
        """Queue a run: the teacher's (state.first) after the teacher's already waiting but ahead of
        every student's; a student's at the back. Raises JobBusy if its owner has one waiting or going."""
        with self._lock:
            owner, name = job.state.owner, replicas.sharing()
            here = self._holding(owner) if owner else None
            mine = here.state.name if here is not None else self._elsewhere_of(owner) if owner else None
            if mine is not None:
                raise JobBusy(Message("board.one_each", name=mine))
            if not self._busy() and not self._waiting and not (name and line.ahead(job.state)):
                with contextlib.suppress(JobBusy):  # another replica took the lock a moment ago: wait
                    return self._begin(job)
            if job.state.first:
                ahead = sum(1 for j in self._waiting if j.state.first)
                self._waiting.insert(ahead, job)
            else:
                self._waiting.append(job)
            if name:
                job.ticket = line.join(job.state, name)  # in the line every replica keeps
            self._watch_elsewhere()
        job.tell()  # the line grew: the pages that show it hear so
        return job

    def holding(self, owner: str) -> Job | None:
        """The run `owner` has waiting or going, if any."""
        with self._lock:
            return self._holding(owner)

    def place(self, job: Job) -> int | None:
        """0 while it trains, 1 for next in line, and so on; None once it has ended."""
        with self._lock:
            if job is self._current and not job.state.status.ended:
                return 0
            waiting = [j for j in self._waiting if not j.state.status.ended]
            here = waiting.index(job) + 1 if job in waiting else None
        everywhere = line.place(job.ticket) if here is not None and job.ticket is not None else None
        return everywhere or here  # behind replicas, its place among the runs waiting on all of them

    def ahead_of(self, job: Job) -> list[RunState]:
        """The runs that will train before `job`: the one going, then those waiting ahead of it."""
        place = self.place(job)
        if not place:
            return []
        current = self._current
        going = [current.snapshot()] if current is not None and current.snapshot().running else []
        return going + [j.snapshot() for j in self.waiting()[:place - 1]]

    def _holding(self, owner: str) -> Job | None:
        for job in [self._current, *self._waiting]:
            if job is not None and job.state.owner == owner and not job.snapshot().status.ended:
                return job
        return None

    def _elsewhere_of(self, owner: str) -> str | None:
        """The name of the run `owner` has waiting or going on another replica, if any."""
        if replicas.sharing() is None:
            return None
        held = self._elsewhere()
        return held.run if held is not None and held.owner == owner else line.holder_of(owner)

    def current(self) -> RunView | None:
        """The run going now if it is the asking class's (lenet.files.current_class()), else the
        class's last run (its results stay on the page); another class's run is never shown, nor
        a design tried for the board (its own student watches it on Build)."""
        code = current_class()
        with self._lock:
            going = self._current
            ours = going is not None and going.state.class_code == code and not going.state.board
            here = going if ours else self._last.get(code)
        there = replicas.remote_run(code)  # behind a proxy: the class's run on another replica
        if there is None or (here is not None and here.state.started >= there.state.started):
            return here
        return there

    def _begin(self, job: Job) -> Job:
        """Start `job` now (self._lock is held). Behind a proxy it first takes the training lock
        that every replica shares: JobBusy if another replica took it first."""
        if job.replica and not job.state.status.ended:
            try:
                taken = replicas.take(job.state, job.replica)
            except Down:
                raise JobBusy(Message("job.store_down")) from None
            if isinstance(taken, replicas.Holder):
                raise _elsewhere(taken)
            job.lease = taken
        try:
            self._current = job.start(self._next)
        finally:
            if job.lease is not None and not job.began:  # it raised, or was stopped while queued: no run
                job.lease.release()
        if not job.state.board:  # a student's design never takes the Train page: the class's last run stays
            self._last[job.state.class_code] = job
        return job

    def _refusal(self, job: Job) -> JobBusy:
        """Why `job` can't start now: a run is going here (the asker's class's or another's), or
        on another replica."""
        held = self._elsewhere()
        if held is not None:
            return _elsewhere(held)
        code = self._current.state.class_code
        if code == job.state.class_code:
            return JobBusy(Message("job.busy"))
        return JobBusy(Message("job.busy_class", code=code or "–"))

    def _elsewhere(self) -> replicas.Holder | None:
        """Who trains on another replica now, if anyone (None on a lone server)."""
        name = replicas.sharing()
        if name is None:
            return None
        try:
            held = replicas.holder()
        except Down:  # the store is away: nothing can start anyway (`_begin`), and what trains here goes on
            return None
        return held if held is not None and held.replica != name else None

    def _watch(self) -> None:
        """While runs wait here behind another replica's, keep their tickets in the line and look
        for their turn every second."""
        while True:
            time.sleep(WATCH_S)
            with self._lock:
                waiting = [j for j in self._waiting if not j.state.status.ended]
                if not waiting:
                    self._watching = False
                    return
            line.renew([j.ticket for j in waiting if j.ticket is not None])
            self._next(None)

    def waiting(self) -> list[Job]:
        """The queued runs, next first."""
        with self._lock:
            return [job for job in self._waiting if not job.state.status.ended]

    def _busy(self) -> bool:
        here = self._current is not None and self._current.snapshot().running
        return here or self._elsewhere() is not None

    def _next(self, ended: Job | None) -> None:
        """A run has ended (here, or on another replica: None): start the next one still waiting."""
        if ended is not None and ended.lease is not None:
            ended.lease.release()
        with self._lock:
            for gone in [j for j in self._waiting if j.state.status.ended]:  # stopped while waiting
                self._waiting.remove(gone)
                line.leave(gone.ticket)
            while self._waiting and not self._busy() and line.first(self._waiting[0].ticket):
                job = self._waiting[0]
                try:
                    self._begin(job)
                except JobBusy:  # another replica took the lock first: wait for its run
                    break
                self._waiting.popleft()
                line.leave(job.ticket)
            self._watch_elsewhere()

    def _watch_elsewhere(self) -> None:
        """Runs wait here while another replica trains: a thread starts them when it has ended."""
        if self._waiting and replicas.sharing() is not None and not self._watching:
            self._watching = True
            threading.Thread(target=self._watch, daemon=True, name="jobs-watch").start()


JOBS = JobQueue()  # one per server process


def current_job() -> RunView | None:
    return JOBS.current()
