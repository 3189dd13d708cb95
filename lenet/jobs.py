"""Training in a background thread that outlives page reruns: one job per server process.

The app starts a job and polls `snapshot()`; a rerun, a page switch or a second browser tab
finds the same job through `current_job()`. Stopping sets the trainer's stop flag, which it
checks before every batch; every completed epoch is already saved as a checkpoint.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from torch import nn

from .checkpoints import RUNS_DIR, save_epoch
from .data import DEFAULT_ROOT, RAW_MD5, Mnist, load_mnist, raw_dir
from .train import BatchReport, EpochReport, EvalResult, TrainConfig, train
from .tuning import lower_thread_priority

__all__ = ["RUNS_DIR", "JobBusy", "JobSnapshot", "TrainingJob", "current_job", "mnist", "set_training_nice",
           "start_job", "warm_up"]

LIVE_EVERY_S = 1.0  # how often the live model's weights are copied for the Draw page

_lock = threading.Lock()
_job: TrainingJob | None = None
_data: Mnist | None = None
_data_lock = threading.Lock()
_warming = False
_training_nice = 0  # how far the training thread steps back for page runs; the launcher sets it


def set_training_nice(nice: int) -> None:
    """Nice every training thread started from now on by `nice` (the launcher, ui/serve.py,
    uses 10 so that pages served from the same process get the CPU first)."""
    global _training_nice
    _training_nice = nice


class JobBusy(RuntimeError):
    """A training run is already going; only one runs per server."""


def mnist(progress=lambda message: None) -> Mnist:
    """MNIST in memory, loaded (and fetched if needed) once per process."""
    global _data
    with _data_lock:
        if _data is None:
            _data = load_mnist(progress=progress)
        return _data


def warm_up() -> None:
    """Load MNIST in the background if its files are here, so Start doesn't wait for it."""
    global _warming
    with _lock:
        if _warming or _data is not None or not all((raw_dir(DEFAULT_ROOT) / n).is_file() for n in RAW_MD5):
            return
        _warming = True
    threading.Thread(target=lambda: _quietly(mnist), daemon=True, name="mnist-warm-up").start()


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # the job itself reports data errors when it runs
        pass


@dataclass
class JobSnapshot:
    """What the page shows, copied under the job's lock so the trainer can go on."""
    config: TrainConfig
    status: str  # loading | running | stopping | stopped | finished | failed
    message: str  # a line for the user: what is happening, or what went wrong
    batches: list[BatchReport]  # every report so far (every few batches)
    epochs: list[dict]  # EpochReport.to_dict() per completed epoch
    evaluation: EvalResult | None  # of the last completed epoch
    checkpoint: Path | None  # where the last completed epoch is saved
    started: float  # time.time() at start
    eta_s: float | None  # estimated seconds left

    @property
    def running(self) -> bool:
        return self.status in ("loading", "running", "stopping")


@dataclass
class TrainingJob:
    config: TrainConfig
    name: str
    runs_dir: Path
    status: str = "loading"
    message: str = "Starting…"
    batches: list[BatchReport] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    evaluation: EvalResult | None = None
    checkpoint: Path | None = None
    started: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _live: dict | None = None  # state_dict copied from the trainer between batches
    _live_at: float = 0.0
    _thread: threading.Thread | None = None

    def start(self) -> TrainingJob:
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"train-{self.name}")
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self.status in ("loading", "running"):
                self.status, self.message = "stopping", "Stopping after this batch…"
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(replace(self.config), self.status, self.message, list(self.batches),
                               list(self.epochs), self.evaluation, self.checkpoint, self.started, self._eta())

    def has_live_model(self) -> bool:
        with self._lock:
            return self._live is not None

    def live_model(self) -> nn.Module | None:
        """A copy of the model as it is now (updated about once a second), in eval mode."""
        from .models import build_model
        with self._lock:
            state = self._live
        if state is None:
            return None
        model = build_model(self.config.model, activation=self.config.activation, pool=self.config.pool)
        model.load_state_dict(state)
        return model.eval()

    def _eta(self) -> float | None:
        if not self.batches or self.status != "running":
            return None
        last = self.batches[-1]
        done = (last.epoch - 1) * last.batches + last.batch
        total = self.config.epochs * last.batches
        return last.elapsed_s / done * (total - done) if done else None

    def _run(self) -> None:
        lower_thread_priority(_training_nice)
        try:
            data = mnist(progress=self._say)
            if self._stop.is_set():
                self._finish("stopped", "Stopped before training began.")
                return
            self._say("Training…", status="running")
            result = train(self.config, data, on_batch=self._on_batch, on_epoch=self._on_epoch, stop=self._stop)
        except Exception as err:  # shown on the page; the server keeps running
            self._finish("failed", f"Training failed: {err}")
            return
        if result.stopped:
            kept = (f"epoch {len(self.epochs)} is saved as {self.checkpoint.name}" if self.checkpoint
                    else "no epoch had finished, so nothing was saved")
            self._finish("stopped", f"Stopped; {kept}.")
        else:
            self._finish("finished", f"Finished; saved as {self.checkpoint.name}.")

    def _say(self, message: str, status: str | None = None) -> None:
        with self._lock:
            self.message = message
            if status and self.status != "stopping":
                self.status = status

    def _finish(self, status: str, message: str) -> None:
        with self._lock:
            self.status, self.message = status, message

    def _on_batch(self, report: BatchReport, model: nn.Module) -> None:
        now = time.monotonic()
        with self._lock:
            self.batches.append(report)
        if now - self._live_at >= LIVE_EVERY_S:  # between batches: the weights are consistent
            self._copy_live(model)
            self._live_at = now

    def _on_epoch(self, report: EpochReport, model: nn.Module) -> None:
        record = report.to_dict()
        path = save_epoch(self.runs_dir / f"{self.name}.pt", self.config, model, self.epochs + [record])
        self._copy_live(model)
        with self._lock:
            self.epochs.append(record)
            self.evaluation = report.evaluation
            self.checkpoint = path

    def _copy_live(self, model: nn.Module) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        with self._lock:
            self._live = state


def current_job() -> TrainingJob | None:
    """The job started last in this server process (running or not), if any."""
    return _job


def start_job(config: TrainConfig, runs_dir: Path | None = None) -> TrainingJob:
    """Start training `config` in the background. Raises JobBusy if a run is going, and
    ValueError for a bad setting, before anything starts."""
    global _job
    config.validate()
    with _lock:
        if _job is not None and _job.snapshot().running:
            raise JobBusy("A training run is already going on this server. Stop it first, or wait for it to finish.")
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{config.model}-{config.activation or 'default'}"
        _job = TrainingJob(config=config, name=name, runs_dir=runs_dir or RUNS_DIR).start()
        return _job
