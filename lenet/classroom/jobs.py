"""Training runs that outlive page reruns: a Job is one run, its process and what it has said so
far; the server's line of them is `JOBS` (jobqueue.py).

    job = JOBS.start(new_run(config))    # now, or JobBusy if a run is going
    job.snapshot()                       # a RunState: what the page shows
    job.stop(by=session)                 # before its next batch; every finished epoch is saved

A rerun, a page switch or another browser finds the same run through `JOBS.current()`.

Why a process and not a thread: PyTorch's OpenMP pool trains at full speed only on the one
thread that owns it. Every Streamlit script thread that predicts starts a pool of its own,
and with more pools than cores libgomp stops spinning between parallel regions: a training
thread in the server ran at ~55% of the CLI's speed (8.2 vs 4.5 ms a step on 2 cores). A
child process owns its pool alone, has its own GIL (the charts' plotly work doesn't stall it),
and is niced as a whole. It starts from a fork server that imported torch and torchvision
once, so a Start costs a fork, not a fresh interpreter. What runs there is trainer.py, and what it
sends back are protocol.py's events.
"""
from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from ..config import TrainConfig
from ..files import runs_dir
from ..messages import Message
from .finetune import EPOCHS as FINETUNE_EPOCHS
from .finetune import REPLAY, plan
from .news import bump
from .protocol import (
    MAX_WAIT_S,
    Began,
    EpochEnded,
    Failed,
    Filmed,
    FineTuned,
    FineTuning,
    Finished,
    Order,
    Probed,
    Said,
    Scored,
    Stepped,
    Stopped,
    Weights,
)
from .replicas import Lease, Publisher, keep, sharing
from .runs import continue_config, run_name
from .serving import context, pages_counter, shared_mnist, training_nice
from .state import Film, RunState, Status, live_model
from .trainer import run_order

__all__ = ["Job", "JobBusy", "continued_run", "finetune_run", "new_run"]
log = logging.getLogger("lenet.jobs")

class JobBusy(RuntimeError):
    """A training run is already going; only one trains at a time."""


class Job:
    """One run on the server's side: its state, its process, and the thread that reads its events."""

    def __init__(self, state: RunState, resume: dict | None = None, score_on: Path | None = None,
                 cap: int | None = None, after: Callable[[RunState], None] | None = None,
                 max_wait_s: float = MAX_WAIT_S, threads: int | None = None) -> None:
        self.state, self.resume = state, resume  # resume: a run continued, or the model fine-tuned
        self.score_on, self.cap, self.max_wait_s, self.threads = score_on, cap, max_wait_s, threads  # see Order
        self.after = after  # called with its final state when it has ended, before join() returns
        self._lock = threading.Lock()
        self._weights: dict | None = None  # the latest live weights the process sent
        self._film = Film()
        self._stop: Any = None  # a multiprocessing Event, set by stop()
        self._process: Any = None
        self._ended = threading.Event()  # the last word has come
        self.replica = sharing()  # behind a proxy, this replica's name; None for a lone server
        self.lease: Lease | None = None  # behind a proxy, the training lock, once its queue took it
        self.ticket: str | None = None  # behind a proxy, its place in the line every replica keeps (line.py)
        shown = self.replica and not state.board  # every replica shows it; a board design only its own page
        self._publish = Publisher(self, self.replica) if shown else None
        self._unpublished = False  # its last publish failed (the store is away): said once in the log
        self._told: tuple | None = None  # what the pages were last told of it (tell())

    def start(self, on_end: Callable[[Job], None] = lambda job: None) -> Job:
        ctx = context()
        self._stop = ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        with self._lock:
            if self.state.status.ended:  # stopped while queued
                return self
            self.state.status, self.state.started = Status.LOADING, time.time()
        resume = pickle.dumps(self.resume) if self.resume is not None else None
        order = Order(config=self.state.config, path=self.state.folder / f"{self.state.name}.pt", resume=resume,
                      tuning=self.state.tuning, nice=training_nice(), score_on=self.score_on, cap=self.cap,
                      max_wait_s=self.max_wait_s, threads=self.threads)
        self._process = ctx.Process(target=run_order, name=f"train-{self.state.name}", daemon=True,
                                    args=(send, self._stop, pages_counter(), order, shared_mnist()))
        self._process.start()
        send.close()  # the child holds the only writer: its exit ends our reads
        if self.lease is not None:  # renewed while the process lives: however it ends, the lease lapses
            keep(self.lease, self._process.is_alive)
        self.tell()
        threading.Thread(target=self._listen, args=(receive, on_end), daemon=True,
                         name=f"job-{self.state.name}").start()
        return self

    def stop(self, by: str | None = None) -> None:
        """Ask the run to stop before its next batch (a queued one never starts); `by` is who asked."""
        with self._lock:
            if self.state.status is Status.QUEUED:
                self.state.status, self.state.message = Status.STOPPED, Message("job.stopped_nothing")
                self.state.stopped_by = by
                self._ended.set()
            elif self.state.status in (Status.LOADING, Status.RUNNING):
                self.state.status, self.state.message = Status.STOPPING, Message("job.stopping")
                self.state.stopped_by = by
        if self._stop is not None:
            self._stop.set()
        self.tell()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended (its status is final); the process may still be exiting."""
        return self._ended.wait(timeout)

    def snapshot(self) -> RunState:
        """A copy of the state, taken under the lock, so the page reads it while the run goes on."""
        with self._lock:
            s = self.state
            return replace(s, batches=list(s.batches), probes=list(s.probes), frames=list(s.frames),
                           epochs=list(s.epochs))

    def has_live_model(self) -> bool:
        with self._lock:
            return self._weights is not None

    def live_weights(self) -> dict | None:
        """The latest live weights the process sent (CPU tensors, never changed: each send is new)."""
        with self._lock:
            return self._weights

    def live_model(self) -> nn.Module | None:
        """A new model of its own with the weights as they are now (sent about once a second), in eval mode."""
        with self._lock:
            weights = self._weights
        return live_model(self.state.config, weights)

    def _listen(self, receive: Any, on_end: Callable[[Job], None]) -> None:
        """Apply each event as it comes; if the process dies without a last word, say so."""
        ended = False
        try:
            while not ended:
                ended = self._apply(pickle.loads(receive.recv_bytes()))
                self.tell()  # published first: an ended run always changed
            self._end()  # join() returns now, not when the process has finished exiting
        except (EOFError, OSError):
            pass
        finally:
            receive.close()
            self._process.join()
        if not ended:
            with self._lock:
                self.state.status = Status.FAILED
                self.state.message = Message("job.died", code=self._process.exitcode)
            self.tell()
            self._end()
        on_end(self)

    def tell(self) -> None:
        """Publish the run to the other replicas (at once if its status, epochs or live model
        changed, else at most every PUBLISH_EVERY_S), then tell the pages that show it (news.py):
        "run" (a design's: "line") at each such change; "live" while it trains, thinned. Published
        first, so a replica that reruns its pages at the news reads the run that made it."""
        with self._lock:
            s = self.state
            now = (s.status, len(s.epochs), self._weights is not None, s.checkpoint)
            told, self._told = self._told, now
        if self.began:  # one waiting in line is not the class's run: it must not hide the one that trains
            self._published(force=now != told)
        if now != told:
            bump("line" if s.board else "run", s.class_code)
        if s.running:
            bump("live", s.class_code)

    @property
    def began(self) -> bool:
        """Its process was started (a run stopped while queued never starts one)."""
        return self._process is not None

    def _published(self, force: bool) -> None:
        """Behind a proxy, let the other replicas see the run as it is now (replicas.Publisher).
        A store that is away, or anything else going wrong there, costs their view, never the run."""
        if self._publish is None:
            return
        try:
            self._publish(force)
            self._unpublished = False
        except Exception:  # noqa: BLE001
            if not self._unpublished:  # once an outage, not twice a second
                log.warning("run %s not published to the other replicas", self.state.name, exc_info=True)
            self._unpublished = True

    def _end(self) -> None:
        """The last word has come: `after` sees the final state, then join() returns. An `after`
        that fails is logged: the queue behind this run goes on all the same."""
        try:
            if self.after is not None:
                self.after(self.snapshot())
        except Exception:  # noqa: BLE001
            log.exception("what follows run %s failed", self.state.name)
        finally:
            self._ended.set()

    def _apply(self, event: Any) -> bool:
        """One event from the training process (protocol.py); True for its last."""
        with self._lock:
            s = self.state
            match event:
                case Said(line):
                    s.message = line
                case Began():
                    if s.status is not Status.STOPPING:
                        s.status, s.message = Status.RUNNING, Message("job.training")
                case Stepped(report):
                    s.batches.append(report)
                case Weights(weights):
                    self._weights = weights
                case Probed(point, evaluation):
                    s.probes.append(point)
                    s.live = evaluation
                case Filmed(frame):
                    s.frames = self._film.add(frame)
                case EpochEnded(record, evaluation, path):
                    s.epochs.append(record)
                    s.evaluation, s.checkpoint = evaluation, Path(path)
                case FineTuned(report):
                    s.finetune = report
                case Scored(accuracy, count, drawings):
                    s.class_score = (accuracy, count, drawings)
                case Finished() | Stopped() | Failed():
                    s.status, s.message = _ending(event, s)
                    s.ended = time.time()
                    return True
        return False


def _ending(event: Finished | Stopped | Failed, state: RunState) -> tuple[Status, Message]:
    """A run's last status, and the line that says it."""
    match event:
        case Finished(path):
            return Status.FINISHED, Message("job.finished", name=Path(path).stem)
        case Failed(said):
            return Status.FAILED, said
    if state.checkpoint is None:
        return Status.STOPPED, Message("job.stopped_nothing")
    return Status.STOPPED, Message("job.stopped_saved", epoch=len(state.epochs), name=state.checkpoint.stem)


def new_run(config: TrainConfig, folder: Path | None = None) -> Job:
    """A fresh run of `config`, saved in `folder` (default: lenet.files.runs_dir()). Raises
    ValueError for a bad setting, before anything starts."""
    config.validate()
    return Job(RunState(config=config, name=run_name(config), folder=Path(folder or runs_dir())))


def continued_run(path: Path, epochs: int) -> Job:
    """A saved run continued for `epochs` more epochs, into the same file. Raises CheckpointError
    for an unreadable file, ValueError for one that can't be continued."""
    config, ckpt = continue_config(path, epochs)
    state = RunState(config=config, name=Path(path).stem, folder=Path(path).parent,
                     first_epoch=len(ckpt["history"]) + 1,
                     epochs=list(ckpt["history"]))
    return Job(state, ckpt)


def finetune_run(source: str | Path, folder: Path, *, layers: str = "all", epochs: int = FINETUNE_EPOCHS,
                 replay: int = REPLAY, runs: Path | None = None) -> Job:
    """Fine-tuning the saved model `source` on the class collection in `folder`, as a new run named
    after it. Raises FineTuneError (a ValueError) for too few drawings, CheckpointError for an
    unusable source."""
    ready = plan(source, folder, layers, epochs)
    history = list(ready.checkpoint["history"])
    tuning = FineTuning(source=Path(source), folder=Path(folder), replay=replay)
    state = RunState(config=ready.config, name=run_name(ready.config, tunes=Path(source).stem),
                     folder=Path(runs or runs_dir()),
                     first_epoch=len(history) + 1, tuning=tuning, epochs=history)
    return Job(state, {k: v for k, v in ready.checkpoint.items() if k != "optimizer"})
