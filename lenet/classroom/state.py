"""A training run as the pages see it: its status, and everything its charts and reports show
(RunState), kept by its Job (jobs.py) from the training process's events and handed out as a copy;
and RunView, what every page reads a run through, wherever it trains."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from torch import nn

from ..config import TrainConfig
from ..files import current_class
from ..messages import Message
from ..registry import build_model
from ..train import BatchReport, EvalResult
from .protocol import FineTuning, Frame, Probe

__all__ = ["MAX_FRAMES", "Film", "RunState", "RunView", "Status", "live_model"]

MAX_FRAMES = 240  # kept per run; past that every other one goes, and then every other new one (26 KB each)


class Status(Enum):
    QUEUED = "queued"  # waiting for the runs before it
    LOADING = "loading"  # its process is starting and reading MNIST
    RUNNING = "running"
    STOPPING = "stopping"  # Stop was pressed; it ends before its next batch
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        """Its process is alive: loading, training or about to stop."""
        return self in (Status.LOADING, Status.RUNNING, Status.STOPPING)

    @property
    def ended(self) -> bool:
        return self in (Status.STOPPED, Status.FINISHED, Status.FAILED)


@dataclass
class RunState:
    """A run as the pages see it: kept by its Job from the training process's events, and
    handed out as a copy (Job.snapshot)."""
    config: TrainConfig
    name: str  # the run's name, also its checkpoint's file name
    folder: Path  # where its checkpoint goes
    first_epoch: int = 1  # 1, or the next epoch of a continued run
    tuning: FineTuning | None = None  # what a fine-tuning run tunes, on what
    status: Status = Status.QUEUED
    message: Message = field(default_factory=lambda: Message("job.starting"))  # said in the viewer's language
    batches: list[BatchReport] = field(default_factory=list)  # every few batches
    probes: list[Probe] = field(default_factory=list)  # the live test-slice points, about one a second
    live: EvalResult | None = None  # the latest probe's predictions: a live confusion matrix
    frames: list[Frame] = field(default_factory=list)  # the film, evenly thinned; the newest frame last
    epochs: list[dict] = field(default_factory=list)  # one EpochReport.to_dict() per epoch, earlier runs' too
    evaluation: EvalResult | None = None  # of the last completed epoch, on the whole eval split
    checkpoint: Path | None = None  # where the last completed epoch is saved
    started: float = field(default_factory=time.time)  # time.time() when it was made, then when it started
    stopped_by: str | None = None  # who pressed Stop: a session's id, as the page gave it
    finetune: dict | None = None  # a finished fine-tune's report: counts, scores before and after
    owner: str | None = None  # the session that asked for it, where one student may queue one run
    first: bool = False  # the teacher's: it goes ahead of every student's run waiting
    board: bool = False  # a design tried for the board: its page is Build, never the projector's Train page
    class_score: tuple[float | None, int, str] | None = None  # the board's hidden test: accuracy, count, set
    ended: float | None = None  # time.time() when its last word came
    class_code: str | None = field(default_factory=current_class)  # whose run it is; None: a server without classes

    @property
    def running(self) -> bool:
        return self.status.active

    @property
    def last_epoch(self) -> int:
        return self.first_epoch + self.config.epochs - 1

    @property
    def done(self) -> float:
        """The share of the run done, 0..1, from its last progress point."""
        if self.status is Status.FINISHED:
            return 1.0
        if not self.batches:
            return 0.0
        last = self.batches[-1]
        steps = (last.epoch - self.first_epoch) * last.batches + last.batch
        return min(1.0, steps / (self.config.epochs * last.batches))

    @property
    def eta_s(self) -> float | None:
        """Seconds left, at the pace so far; None before the first point or once it has stopped running."""
        if not self.batches or self.status is not Status.RUNNING or self.done == 0:
            return None
        return self.batches[-1].elapsed_s * (1 - self.done) / self.done


class RunView(Protocol):
    """A run as every page reads it, wherever it trains: a Job of this server (jobs.py) or, behind
    replicas, a RemoteJob of another replica's (replicas.py). JOBS.current() hands out either."""

    @property
    def state(self) -> RunState:
        """The run as it is now, not copied: read its name, class, start and owner only."""

    def snapshot(self) -> RunState:
        """A copy of the run as it is now, for a page to show."""

    def has_live_model(self) -> bool:
        """Whether weights of the model being trained have come yet."""

    def live_model(self) -> nn.Module | None:
        """A model of the caller's own with the latest live weights, in eval mode; None before any."""

    def stop(self, by: str | None = None) -> None:
        """Ask the run to stop before its next batch; `by` is the session that asked."""

    def join(self, timeout: float | None = None) -> bool:
        """Wait (at most `timeout` s) until the run has ended; whether it has."""


def live_model(config: TrainConfig, weights: dict | None) -> nn.Module | None:
    """A new model of `config`'s with `weights` (a run's live weights, on the CPU), in eval mode: its
    caller's own, so it never changes under a page; None before the run has sent any."""
    if weights is None:
        return None
    model = build_model(config.model, **config.model_options())
    model.load_state_dict(weights)
    return model.eval()


class Film:
    """A run's frames, at most MAX_FRAMES evenly spaced: when full, every other one goes, and from
    then on every other new one is kept. The newest is always shown last, for the live view."""

    def __init__(self) -> None:
        self.kept: list[Frame] = []
        self.seen, self.stride = 0, 1

    def add(self, frame: Frame) -> list[Frame]:
        """Take a new frame; returns the film to show (a new list)."""
        self.seen += 1
        if (self.seen - 1) % self.stride == 0:
            self.kept.append(frame)
            if len(self.kept) > MAX_FRAMES:
                self.kept, self.stride = self.kept[::2], self.stride * 2
        return self.kept + ([] if self.kept[-1] is frame else [frame])
