"""Training in its own process that outlives page reruns: one job per server.

The app starts a job and polls `snapshot()`; a rerun, a page switch or another browser finds
the same job through `current_job()`. Stopping sets the trainer's stop flag, which it checks
before every batch; every completed epoch is already saved as a checkpoint.

Why a process and not a thread: PyTorch's OpenMP pool trains at full speed only on the one
thread that owns it. Every Streamlit script thread that predicts starts a pool of its own,
and with more pools than cores libgomp stops spinning between parallel regions: a training
thread in the server ran at ~55% of the CLI's speed (8.2 vs 4.5 ms a step on 2 cores). A
child process owns its pool alone, has its own GIL (the charts' plotly work doesn't stall it),
and is niced as a whole. It starts from a fork server that imported torch and torchvision
once, so a Start costs a fork, not a fresh interpreter.

Pages come first: a page run wraps its work in `serving()`, a counter the trainer reads
through shared memory, and the trainer waits between two batches while any page is being
served (at most MAX_WAIT_S), so a class drawing on the same server is answered first.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import RUNS_DIR, save_epoch
from .data import DEFAULT_ROOT, RAW_MD5, Mnist, load_mnist, raw_dir
from .finetune import EPOCHS as FINETUNE_EPOCHS
from .finetune import REPLAY, checkpoint_of, finetune, plan, save_finetuned
from .messages import Message, message_of
from .models import build_model
from .runs import prune_runs
from .train import BatchReport, EpochReport, EvalResult, Frame, ProbeReport, TrainConfig, train
from .tuning import ThreadGovernor, lower_thread_priority

__all__ = ["RUNS_DIR", "FineTuning", "JobBusy", "JobSnapshot", "Probe", "TrainingJob", "current_job", "mnist",
           "serving", "set_training_nice", "start_finetune", "start_job", "warm_up"]

LIVE_EVERY_S = 1.0  # how often the live model's weights are sent for the Draw page
MAX_FRAMES = 240  # kept per run; past that every other one goes, and then every other new one (26 KB each)
MAX_WAIT_S = 0.5  # the longest the trainer waits for pages before one more batch: it never starves
PRELOAD = ["lenet.jobs", "torchvision.datasets"]  # what the fork server imports once (~2.5 s)

_lock = threading.Lock()
_job: TrainingJob | None = None
_data: Mnist | None = None
_data_lock = threading.Lock()
_warming = False
_training_nice = 0  # how far the training process steps back for page runs; the launcher sets it
_pages = 0  # page runs in progress, in every session
_pages_lock = threading.Lock()
_shared_pages: Any = None  # the same count in shared memory, read by the training process


class JobBusy(RuntimeError):
    """A training run is already going; only one runs per server."""


def _context() -> mp.context.BaseContext:
    """Fork server where there is one (Linux, macOS), else spawn; never plain fork, which would
    copy the server's threads and OpenMP state into the child."""
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _pages_counter() -> Any:
    global _shared_pages
    with _pages_lock:
        if _shared_pages is None:
            _shared_pages = _context().Value("i", 0, lock=False)
        return _shared_pages


@contextmanager
def serving() -> Iterator[None]:
    """Wrap a page's work (a prediction, a page run): training waits until it is done."""
    global _pages
    shared = _pages_counter()
    with _pages_lock:
        _pages += 1
        shared.value = _pages
    try:
        yield
    finally:
        with _pages_lock:
            _pages -= 1
            shared.value = _pages


def _wait_for_pages(pages: Any, stop: Any, max_wait_s: float = MAX_WAIT_S) -> None:
    """The trainer's pause before each batch: wait while pages are being served (at most
    max_wait_s, so a steady stream of visitors slows training but never stops it), unless
    Stop was pressed: that is answered at once."""
    deadline = time.monotonic() + max_wait_s
    while pages.value > 0 and not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.002)


def set_training_nice(nice: int) -> None:
    """Nice every training process started from now on by `nice` (the launcher, ui/serve.py,
    uses 10 so that the server's own threads get the CPU first)."""
    global _training_nice
    _training_nice = nice


def mnist(progress=lambda message: None) -> Mnist:
    """MNIST in memory, loaded (and fetched if needed) once per process, in shared memory."""
    global _data
    with _data_lock:
        if _data is None:
            _data = _in_shared_memory(load_mnist(progress=progress))
        return _data


def _in_shared_memory(data: Mnist) -> Mnist:
    """Move MNIST's tensors to shared memory once, before any session reads them (moving a
    tensor's storage while another thread reads it would not be safe). Each training process
    then maps these pages instead of loading a copy of its own: ~220 MB less, and on a busy
    server ~1 s less between Start and the first batch. Where shared memory is too small (a
    container's 64 MB /dev/shm), they stay private and each training process loads its own."""
    with contextlib.suppress(RuntimeError, OSError):
        for tensor in _tensors(data):
            tensor.share_memory_()
    return data


def _tensors(data: Mnist) -> list[torch.Tensor]:
    return [data.train.x, data.train.y, data.test.x, data.test.y]


def _shared_data() -> Mnist | None:
    """The server's MNIST, for a training process to map, if it is loaded and all in shared memory."""
    data = _data
    return data if data is not None and all(t.is_shared() for t in _tensors(data)) else None


def warm_up() -> None:
    """Start the fork server and load MNIST in the background, so Start doesn't wait for them."""
    global _warming
    with _lock:
        if _warming:
            return
        _warming = True
    threading.Thread(target=_warm, daemon=True, name="training-warm-up").start()


def _warm() -> None:
    _pages_counter()
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver
        forkserver.ensure_running()
    if all((raw_dir(DEFAULT_ROOT) / n).is_file() for n in RAW_MD5):
        _quietly(mnist)


def _quietly(fn) -> None:
    try:
        fn()
    except Exception:  # the job itself reports data errors when it runs
        pass


@dataclass(frozen=True)
class FineTuning:
    """A run that fine-tunes a saved model on the class's drawings (lenet/finetune.py) instead of
    training from scratch; its TrainConfig holds the layers that learn and the epochs."""
    source: Path  # the checkpoint fine-tuned; only read
    folder: Path  # the class collection
    replay: int  # MNIST training images mixed in


@dataclass(frozen=True)
class Probe:
    """One live point: ProbeReport without its predictions, small enough to keep every one."""
    progress: float  # epochs done, fractional
    train_accuracy: float | None
    eval_accuracy: float
    eval_loss: float

@dataclass
class JobSnapshot:
    """What the page shows, copied under the job's lock so the trainer can go on."""
    config: TrainConfig
    name: str  # the run's name, also its checkpoint's file name
    status: str  # loading | running | stopping | stopped | finished | failed
    message: str  # a line for the user: what is happening, or what went wrong
    first_epoch: int  # 1, or the next epoch of a continued run
    batches: list[BatchReport]  # every report so far (every few batches)
    probes: list[Probe]  # the live test-slice points, about one a second
    live: EvalResult | None  # the latest probe's predictions: a live confusion matrix
    frames: list[Frame]  # conv1 filters and one digit's maps, every few hundred samples; the latest last
    epochs: list[dict]  # the history: one EpochReport.to_dict() per completed epoch, earlier runs' too
    evaluation: EvalResult | None  # of the last completed epoch, on the whole eval split
    checkpoint: Path | None  # where the last completed epoch is saved
    started: float  # time.time() at start
    stopped_by: str | None  # who pressed Stop: a session's id, as the page gave it
    eta_s: float | None  # estimated seconds left
    tuning: FineTuning | None = None  # what a fine-tuning run tunes, on what
    finetune: dict | None = None  # a finished fine-tuning run's report: counts, scores before and after

    @property
    def running(self) -> bool:
        return self.status in ("loading", "running", "stopping")

    @property
    def last_epoch(self) -> int:
        return self.first_epoch + self.config.epochs - 1


@dataclass
class TrainingJob:
    """The server's side of a run: state the pages read, kept up to date by a thread that reads
    the training process's messages (see _trainer for what it sends)."""
    config: TrainConfig
    name: str
    runs_dir: Path
    resume: dict | None = None  # the checkpoint of a run being continued (or, fine-tuning, of its source)
    tuning: FineTuning | None = None
    finetune: dict | None = None
    status: str = "loading"
    message: str = Message("job.starting")  # a Message: the page says it in the viewer's language
    batches: list[BatchReport] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    live: EvalResult | None = None
    frames: list[Frame] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    evaluation: EvalResult | None = None
    checkpoint: Path | None = None
    started: float = field(default_factory=time.time)
    stopped_by: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _live_state: dict | None = None  # the latest weights the trainer sent
    _latest_frame: Frame | None = None
    _frames_seen: int = 0
    _frame_stride: int = 1  # keep every n-th frame: doubles each time the film is thinned
    _stop: Any = None  # a multiprocessing Event, set by stop()
    _process: Any = None
    _thread: threading.Thread | None = None  # reads the process's messages until it ends
    _ended: threading.Event = field(default_factory=threading.Event)  # the last word has come

    def __post_init__(self) -> None:
        if self.resume is not None:
            self.epochs = list(self.resume["history"])

    def start(self) -> TrainingJob:
        ctx = _context()
        self._stop = ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        resume = pickle.dumps(self.resume) if self.resume is not None else None
        self._process = ctx.Process(target=_trainer, name=f"train-{self.name}", daemon=True, args=(
            send, self._stop, _pages_counter(), self.config, self.runs_dir / f"{self.name}.pt", resume,
            _training_nice, _shared_data(), self.tuning))
        self._process.start()
        send.close()  # the child holds the only writer: its exit ends our reads
        self._thread = threading.Thread(target=self._listen, args=(receive,), daemon=True, name=f"job-{self.name}")
        self._thread.start()
        return self

    def stop(self, by: str | None = None) -> None:
        """Ask the trainer to stop before its next batch; `by` says who asked (a session id)."""
        with self._lock:
            if self.status in ("loading", "running"):
                self.status, self.message, self.stopped_by = "stopping", Message("job.stopping"), by
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the run has ended (its status is final); the process may still be exiting."""
        self._ended.wait(timeout)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(replace(self.config), self.name, self.status, self.message, len(self._done()) + 1,
                               list(self.batches), list(self.probes), self.live, self._film(),
                               list(self.epochs), self.evaluation,
                               self.checkpoint, self.started, self.stopped_by, self._eta(), self.tuning, self.finetune)

    def _done(self) -> list[dict]:
        return self.resume["history"] if self.resume is not None else []

    def has_live_model(self) -> bool:
        with self._lock:
            return self._live_state is not None

    def live_model(self) -> nn.Module | None:
        """A new model with the weights as they are now (sent about once a second), in eval mode."""
        with self._lock:
            state = self._live_state
        if state is None:
            return None
        model = build_model(self.config.model, activation=self.config.activation, pool=self.config.pool)
        model.load_state_dict(state)
        return model.eval()

    def _eta(self) -> float | None:
        if not self.batches or self.status != "running":
            return None
        last, first = self.batches[-1], len(self._done()) + 1
        done = (last.epoch - first) * last.batches + last.batch
        total = self.config.epochs * last.batches
        return last.elapsed_s / done * (total - done) if done else None

    def _listen(self, receive) -> None:
        """Apply each message as it comes; if the process dies without a last word, say so."""
        ended = False
        try:
            while not ended:
                kind, *body = pickle.loads(receive.recv_bytes())
                ended = self._apply(kind, body)
        except (EOFError, OSError):
            pass
        finally:
            receive.close()
            self._process.join()
        if not ended:
            self._finish("failed", Message("job.died", code=self._process.exitcode))
        self._ended.set()

    def _apply(self, kind: str, body: list) -> bool:
        """One message from _trainer; True for the last one."""
        with self._lock:
            if kind == "say":
                self.message = body[0]
                if body[1] and self.status != "stopping":
                    self.status = body[1]
            elif kind == "batch":
                self.batches.append(body[0])
            elif kind == "live":
                self._live_state = body[0]
            elif kind == "probe":
                report: ProbeReport = body[0]
                self.probes.append(Probe(report.progress, report.train_accuracy, report.eval_accuracy,
                                         report.eval_loss))
                self.live = report.evaluation
            elif kind == "frame":
                self._keep(body[0])
            elif kind == "epoch":
                self.epochs.append(body[0])
                self.evaluation, self.checkpoint = body[1], Path(body[2])
            elif kind == "finetune":
                self.finetune = body[0]
            elif kind == "end":
                self.status, self.message = body
                if self.status == "stopped":
                    self.message = self._stopped_message()
                self._ended.set()  # join() returns now, not when the process has finished exiting
                return True
        return False

    def _keep(self, frame: Frame) -> None:
        """Keep at most MAX_FRAMES, evenly spaced: when full, drop every other one and from then
        on keep every other new one. The newest is always kept apart, for the live view."""
        self._latest_frame = frame
        self._frames_seen += 1
        if (self._frames_seen - 1) % self._frame_stride:
            return
        self.frames.append(frame)
        if len(self.frames) > MAX_FRAMES:
            self.frames, self._frame_stride = self.frames[::2], self._frame_stride * 2

    def _film(self) -> list[Frame]:
        """The kept frames, ending with the newest one."""
        latest = self._latest_frame
        if latest is None or (self.frames and self.frames[-1] is latest):
            return list(self.frames)
        return self.frames + [latest]

    def _stopped_message(self) -> Message:
        if self.checkpoint is None:
            return Message("job.stopped_nothing")
        return Message("job.stopped_saved", epoch=len(self.epochs), name=self.checkpoint.stem)

    def _finish(self, status: str, message: str) -> None:
        with self._lock:
            self.status, self.message = status, message


def _on_cpu(state: dict) -> dict:
    """Weights the server can load whatever device trained them (a GPU stays the child's)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _trainer(send, stop, pages, config: TrainConfig, path: Path, resume: bytes | None, nice: int,
             shared: Mnist | None, tuning: FineTuning | None) -> None:
    """The training process: train, save each epoch to `path`, and send the server
    ("say", message, status) · ("batch", BatchReport) · ("live", state_dict) about once a second ·
    ("probe", ProbeReport) · ("frame", Frame) every 500 samples · ("epoch", record, EvalResult, path) ·
    ("finetune", report) after fine-tuning (`tuning`) · ("end", status, message) last.
    Messages are plain pickles: tensors travel as bytes, not as shared-memory handles. `shared`
    is the server's MNIST in shared memory (None: load it here)."""
    lower_thread_priority(nice)  # before torch starts its OpenMP threads: they inherit it

    def tell(*message) -> None:
        send.send_bytes(pickle.dumps(message))

    checkpoint = pickle.loads(resume) if resume is not None else None
    history = list(checkpoint["history"]) if checkpoint is not None else []
    live_at = 0.0

    def on_batch(report: BatchReport, model: nn.Module) -> None:
        nonlocal live_at
        tell("batch", report)
        if time.monotonic() - live_at >= LIVE_EVERY_S:  # between batches: the weights are consistent
            tell("live", _on_cpu(model.state_dict()))
            live_at = time.monotonic()

    def on_epoch(report: EpochReport, model: nn.Module) -> None:
        history.append(report.to_dict())
        saved = save_epoch(path, config, model, history, report.optimizer)
        prune_runs(path.parent, keep=saved)
        tell("live", _on_cpu(model.state_dict()))
        tell("epoch", history[-1], report.evaluation, str(saved))

    try:
        pause = _pause_and_govern(pages, stop)  # from here on training runs on one thread until two prove faster
        data = shared or load_mnist(progress=lambda message: tell("say", message, None))  # shared: the server's, mapped
        if stop.is_set():
            tell("end", "stopped", "")
            return
        tell("say", Message("job.training"), "running")
        if tuning is not None:
            tuned = finetune(tuning.source, tuning.folder, data, layers=config.layers, epochs=config.epochs,
                             replay=tuning.replay, seed=config.seed, stop=stop, on_batch=on_batch, on_epoch=on_epoch,
                             pause=pause)
            if tuned.history:  # at least one epoch: the run is saved, now with its report
                tell("finetune", checkpoint_of(tuned)["finetune"])
                save_finetuned(path, tuned)
            stopped = tuned.stopped
        else:
            stopped = train(config, data, on_batch=on_batch, on_epoch=on_epoch, stop=stop,
                            on_probe=lambda report: tell("probe", report), pause=pause,
                            resume=checkpoint, on_frame=lambda frame: tell("frame", frame)).stopped
        tell("end", *(("stopped", "") if stopped else ("finished", Message("job.finished", name=path.stem))))
    except Exception as err:  # shown on the page; the server keeps running
        tell("end", "failed", Message("job.failed", error=message_of(err) or str(err)))
    finally:
        send.close()


def _pause_and_govern(pages: Any, stop: Any) -> Callable[[], None]:
    """The trainer's `pause`, called before every batch: time the batch that just ended (its
    step, and what was sent after it) for the thread governor, then let pages go first."""
    governor = ThreadGovernor(torch.get_num_threads(), torch.set_num_threads)
    started: float | None = None  # when the last batch began; None before the first

    def pause() -> None:
        nonlocal started
        if started is not None:
            governor.batch(time.perf_counter() - started)
        _wait_for_pages(pages, stop)
        started = time.perf_counter()

    return pause


def current_job() -> TrainingJob | None:
    """The job started last in this server process (running or not), if any."""
    return _job


def start_finetune(source: str | Path, folder: Path, *, layers: str = "all", epochs: int = FINETUNE_EPOCHS,
                   replay: int = REPLAY, runs_dir: Path | None = None) -> TrainingJob:
    """Start fine-tuning the saved model `source` on the class collection in `folder`, in the
    background, as a new run named after it. Raises JobBusy if a run is going, FineTuneError
    (a ValueError) for too few drawings, CheckpointError for an unusable source."""
    config, ckpt = plan(source, folder, layers, epochs)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{Path(source).stem}-class"
    return _start(TrainingJob(config=config, name=name, runs_dir=Path(runs_dir or RUNS_DIR),
                              resume={k: v for k, v in ckpt.items() if k != "optimizer"},
                              tuning=FineTuning(Path(source), Path(folder), replay)))


def start_job(config: TrainConfig, runs_dir: Path | None = None, resume: Path | None = None,
              resume_ckpt: dict | None = None) -> TrainingJob:
    """Start training `config` in the background: a new run, or, with `resume` (a saved run's
    path) and its checkpoint, that run continued for config.epochs more epochs into the same file.
    Raises JobBusy if a run is going, and ValueError for a bad setting, before anything starts."""
    config.validate()
    if resume is not None:
        name, folder = Path(resume).stem, Path(resume).parent
    else:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{config.model}-{config.activation or 'default'}"
        folder = Path(runs_dir or RUNS_DIR)
    return _start(TrainingJob(config=config, name=name, runs_dir=folder, resume=resume_ckpt))


def _start(job: TrainingJob) -> TrainingJob:
    """Start `job` as the server's one run; JobBusy if another is going."""
    global _job
    with _lock:
        if _job is not None and _job.snapshot().running:
            raise JobBusy(Message("job.busy"))
        _job = job.start()
        return _job
