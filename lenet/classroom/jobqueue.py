"""The server's line of training runs: one trains at a time, the teacher's go first, each
class sees its own. `JOBS` is the one line of a server process.

    job = JOBS.start(new_run(config))    # now, or JobBusy if a run is going
    JOBS.enqueue(new_run(other))         # after the runs before it, in order
    JOBS.current()                       # the asking class's run: going now, or its last
"""
from __future__ import annotations

import threading
from collections import deque

from ..files import current_class
from ..messages import Message
from .jobs import Job, JobBusy
from .state import RunState

__all__ = ["JOBS", "JobQueue", "current_job"]


class JobQueue:
    """The server's runs: one trains at a time. `start` runs one now (JobBusy if another is going);
    `enqueue` puts one after those waiting, and each starts when the one before it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Job | None = None  # the run going now, or the last one
        self._last: dict[str | None, Job] = {}  # each class's last run to start (None: no class)
        self._waiting: deque[Job] = deque()

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
            if self._busy() and self._current.state.owner is None:
                raise self._refusal(job)
        job.state.first = True
        return self.enqueue(job)

    def enqueue(self, job: Job) -> Job:
        """Queue a run: the teacher's (state.first) after the teacher's already waiting but ahead of
        every student's; a student's at the back. Raises JobBusy if its owner has one waiting or going."""
        with self._lock:
            owner = job.state.owner
            mine = self._holding(owner) if owner else None
            if mine is not None:
                raise JobBusy(Message("board.one_each", name=mine.state.name))
            if not self._busy() and not self._waiting:
                self._begin(job)
            elif job.state.first:
                ahead = sum(1 for j in self._waiting if j.state.first)
                self._waiting.insert(ahead, job)
            else:
                self._waiting.append(job)
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
            return waiting.index(job) + 1 if job in waiting else None

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

    def current(self) -> Job | None:
        """The run going now if it is the asking class's (lenet.files.current_class()), else the
        class's last run (its results stay on the page); another class's run is never shown."""
        code = current_class()
        with self._lock:
            going = self._current
            return going if going is not None and going.state.class_code == code else self._last.get(code)

    def _begin(self, job: Job) -> Job:
        """Start `job` now (the lock is held)."""
        self._current = self._last[job.state.class_code] = job.start(self._next)
        return job

    def _refusal(self, job: Job) -> JobBusy:
        """Why `job` can't start now: a run is going, the asker's class's or another's."""
        code = self._current.state.class_code
        if code == job.state.class_code:
            return JobBusy(Message("job.busy"))
        return JobBusy(Message("job.busy_class", code=code or "–"))

    def waiting(self) -> list[Job]:
        """The queued runs, next first."""
        with self._lock:
            return [job for job in self._waiting if not job.state.status.ended]

    def _busy(self) -> bool:
        return self._current is not None and self._current.snapshot().running

    def _next(self, ended: Job) -> None:
        """A run has ended: start the next one still waiting."""
        with self._lock:
            while self._waiting and not self._busy():
                job = self._waiting.popleft()
                if not job.state.status.ended:
                    self._begin(job)


JOBS = JobQueue()  # one per server process


def current_job() -> Job | None:
    return JOBS.current()
