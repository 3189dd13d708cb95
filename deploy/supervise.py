"""What keeps a lesson going under `make serve-replicas`: the processes it starts (redis-server, the
replicas, nginx), each started again on its own port with its own environment when it stops, until
the whole is stopped (Ctrl-C, SIGTERM, or the end of `behind_nginx`'s block).

A replica that dies takes only its students' sessions with it: nginx sends their next request to a
live replica while it is down (deploy/replicas.py's `render`), and the restarted replica takes them
back. A thread polls every POLL_S rather than waiting on each process, so that one loop sees them all
and one lock decides, against `stop()`, whether a process is started again.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lenet.files import ROOT

POLL_S = 0.5  # how soon a stopped process is noticed
STOP_S = 30.0  # a process that hasn't stopped this long after SIGTERM is killed
STEADY_S = 10.0  # a process that lived this long had started well: its next restart is at once
MAX_BACKOFF_S = 30.0  # one that keeps failing at start is tried at least this often

Output = int | IO[Any] | None  # subprocess's stdout/stderr: DEVNULL, a file, or None for ours


@dataclass
class Child:
    """One supervised process: what starts it again, as it was started the first time."""
    name: str  # "r1", "nginx", "redis"
    label: str  # how the log names it: "replica r1"
    command: list[str]
    env: dict[str, str]
    proc: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    restarts: int = 0
    backoff_s: float = 0.0  # grows while it keeps stopping soon after a start


class Supervisor:
    """Starts processes, and starts each again when it stops, until `stop()`.

    Each runs in a process group of its own (a new session), for two reasons: a Ctrl-C at the
    terminal reaches only us, and we stop the rest in order, not racing their restarts; and what a
    dead process leaves behind (nginx's workers holding its port, a replica's fork server and
    training process) can be stopped with it before the restart.
    """

    def __init__(self, out: Output = None, cwd: Path = ROOT, log: IO[str] | None = None,
                 poll_s: float = POLL_S) -> None:
        self._out, self._cwd, self._log, self._poll_s = out, cwd, log, poll_s
        self._children: dict[str, Child] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self, name: str, label: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        """Start a process under supervision (it is started again whenever it stops, once `watch()`
        runs). Returns it at once: the caller waits for it to answer."""
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("the supervisor is stopping")
            child = Child(name=name, label=label, command=command, env=env, proc=self._popen(command, env))
            self._children[name] = child
            return child.proc

    def process(self, name: str) -> subprocess.Popen:
        """The current process of `name` (a new one after each restart)."""
        with self._lock:
            return self._children[name].proc

    def restarts(self) -> dict[str, int]:
        """How many times each process was started again."""
        with self._lock:
            return {name: child.restarts for name, child in self._children.items()}

    def watch(self) -> None:
        """From now on, a process that stops is started again (a daemon thread: it never holds the
        interpreter open)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="lenet-supervisor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop supervising, then stop every process in the reverse order of their start (nginx
        before the replicas before redis): all are sent SIGTERM at once, and each is killed if it
        hasn't stopped STOP_S later."""
        with self._lock:
            self._stopping.set()
            children = list(self._children.values())[::-1]
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=STOP_S)
        for child in children:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_S
        for child in children:
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()
            _signal_group(child.proc, signal.SIGKILL)  # what it left behind

    def _popen(self, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=self._cwd, env=env, stdout=self._out, stderr=self._out,
                                start_new_session=True)

    def _loop(self) -> None:
        while not self._stopping.wait(self._poll_s):
            with self._lock:
                children = list(self._children.values())
            for child in children:
                self._check(child)

    def _check(self, child: Child) -> None:
        """Start `child` again if it has stopped and its backoff has passed."""
        code = child.proc.poll()
        if code is None:
            return
        lived = time.monotonic() - child.started
        if lived < child.backoff_s:
            return  # it stopped soon after its last start: wait before the next
        with self._lock:
            if self._stopping.is_set():
                return
            print(f"{child.label} stopped (exit code {code}): starting it again", file=self._log or sys.stderr,
                  flush=True)
            # its leftovers, at once: nginx's workers hold its port, a replica's training process would
            # go on writing its checkpoint past the epoch the pages show
            _signal_group(child.proc, signal.SIGKILL)
            child.backoff_s = _next_backoff(lived, child.backoff_s, self._poll_s)
            try:
                child.proc = self._popen(child.command, child.env)
            except OSError as err:  # its binary gone: tried again after the backoff
                print(f"{child.label} could not start: {err}", file=self._log or sys.stderr, flush=True)
            child.started = time.monotonic()
            child.restarts += 1


def _next_backoff(lived_s: float, backoff_s: float, first_s: float) -> float:
    """How long to wait before the next restart: none after a process that ran steadily, else twice
    the last wait (from `first_s`, up to MAX_BACKOFF_S), so that one that can't start (its port
    taken, its binary gone) is retried ever more slowly, not in a loop that eats a core."""
    if lived_s >= STEADY_S + backoff_s:
        return 0.0
    return min(MAX_BACKOFF_S, 2 * backoff_s or first_s)


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    """Send `sig` to `proc`'s whole process group (it leads one), if any of it is left."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def running(command: list[str], env: dict[str, str], out, cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """A process that is stopped (terminated, killed after 30 s) when the block ends, whatever happens."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
