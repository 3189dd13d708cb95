"""The training process: what runs in the child that a Start forks.

The child trains with lenet.train.train and a `LiveHook`, which is everything the app adds to the
textbook loop: it lets pages go first, honours Stop, probes a fixed test slice about once a
second, films conv1's filters and one digit's feature maps, sends the live weights, and saves
each epoch. What it is asked to run (an Order) and every event it sends back are protocol.py's;
the server (lenet/classroom/jobs.py) keeps the run's state from the events.
"""
from __future__ import annotations

import math
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoints import save_epoch
from ..data import DataError, Mnist, load_mnist
from ..inside.adversarial import hardened
from ..inside.introspect import feature_maps, filters, has_feature_maps
from ..inside.ood import for_checkpoint
from ..messages import Message, message_of
from ..train import EpochReport, Hook, Progress, evaluate, train
from . import collection
from .finetune import checkpoint_of, class_split, finetune, save_finetuned
from .protocol import (
    MAX_WAIT_S,
    PROBE_SIZE,
    Began,
    EpochEnded,
    Failed,
    Filmed,
    FineTuned,
    Finished,
    Frame,
    Order,
    Probe,
    Probed,
    Said,
    Scored,
    Stepped,
    Stopped,
    Weights,
)
from .runs import prune_runs
from .tuning import ThreadGovernor, lower_thread_priority

__all__ = ["LiveHook", "class_score", "run_order", "wait_for_pages"]

PROGRESS_EVERY = 5  # batches between progress points: the live charts want a point every few batches
PROBE_EVERY_S = 1.0  # how often the fixed test slice is probed
LIVE_EVERY_S = 1.0  # how often the live model's weights are sent for the Draw page
FRAME_EVERY = 500  # training samples between two frames of the film


class LiveHook(Hook):
    """The app's hook on the loop: pages first, Stop, live probes, frames, weights, a saved epoch."""

    def __init__(self, send: Callable[[Any], None], stop: Any, pages: Any, order: Order, history: list[dict], *,
                 frame_every: int | None = FRAME_EVERY, govern: bool = True, data: Mnist | None = None) -> None:
        self.send, self.stop, self.pages, self.order, self.history = send, stop, pages, order, history
        self.data = data  # MNIST, to save each epoch with its digit-like calibration (None: without)
        self.frame_every = frame_every  # None: no film (bench/frames.py measures what it costs)
        self.governor = ThreadGovernor(torch.get_num_threads(), torch.set_num_threads) if govern else None
        self.started: float | None = None  # when the last batch began
        self.probed = self.weighed = -math.inf
        self.filmed: int | None = None  # samples at the last frame

    def before_batch(self, progress: Progress) -> bool:
        if self.started is not None and self.governor is not None:  # it times the step just done, waits excluded
            self.governor.batch(time.perf_counter() - self.started)
        if time.perf_counter() - self.probed >= PROBE_EVERY_S:
            self._probe(progress)
        if self.filmed is None and self.frame_every is not None:
            self._film(progress)  # the filters before the first batch: random, or where a continued run left them
        wait_for_pages(self.pages, self.stop, self.order.max_wait_s)
        self.started = time.perf_counter()
        return not self.stop.is_set()

    def after_batch(self, progress: Progress) -> None:
        last = progress.batch == progress.batches
        if self.frame_every is not None and (progress.samples_done - self.filmed >= self.frame_every or last):
            self._film(progress)
        if progress.batch % PROGRESS_EVERY == 0 or last:
            self.send(Stepped(progress.report()))
            if time.monotonic() - self.weighed >= LIVE_EVERY_S:
                self._weights(progress.model)

    def after_epoch(self, progress: Progress, report: EpochReport) -> None:
        self.history.append(report.to_dict())
        calibration = None if self.data is None else for_checkpoint(progress.model, self.data)  # ~0.5 s for lenet5
        saved = save_epoch(self.order.path, self.order.config, progress.model, self.history, report.optimizer,
                           calibration)
        prune_runs(saved.parent, cap=self.order.cap, keep=saved)
        self._weights(progress.model)
        self.send(EpochEnded(record=self.history[-1], evaluation=report.evaluation, path=saved))

    def _probe(self, progress: Progress) -> None:
        ev = evaluate(progress.model, progress.eval_set.head(PROBE_SIZE))
        progress.model.train()  # evaluate() left it in eval mode
        self.send(Probed(point=Probe(progress=progress.epochs_done, train_accuracy=progress.running_accuracy,
                                     eval_accuracy=ev.accuracy, eval_loss=ev.loss), evaluation=ev))
        self.probed = time.perf_counter()

    def _film(self, progress: Progress) -> None:
        self.filmed = progress.samples_done
        if not has_feature_maps(progress.model):
            return
        # conv1 and conv2 only: the layers after conv2 would double the cost. numpy arrays,
        # because they pickle for the trip to the server ~10× faster than tensors.
        maps = feature_maps(progress.model, progress.eval_set.x[:1], ("features.conv1", "features.conv2"))
        self.send(Filmed(Frame(samples=progress.samples_done, progress=progress.epochs_done,
                               filters=filters(progress.model)["conv1"].numpy(),
                               maps={k: m.numpy() for k, m in maps.items()})))

    def _weights(self, model: nn.Module) -> None:
        # on the CPU, copied: the server loads them whatever device trained them
        self.send(Weights({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}))
        self.weighed = time.monotonic()


def wait_for_pages(pages: Any, stop: Any, max_wait_s: float = MAX_WAIT_S) -> None:
    """Wait while pages are being served (at most max_wait_s, so a steady stream of visitors slows
    training but never stops it), unless Stop was pressed: that is answered at once."""
    deadline = time.monotonic() + max_wait_s
    while pages.value > 0 and not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.002)


def run_order(pipe: Any, stop: Any, pages: Any, order: Order, shared: Mnist | None) -> None:
    """The training process's whole life: load MNIST (or map the server's, `shared`), train or
    fine-tune with a LiveHook, and end with Finished, Stopped or Failed, whatever happens."""
    lower_thread_priority(order.nice)  # before torch starts its OpenMP threads: they inherit it

    def send(event: Any) -> None:
        pipe.send_bytes(pickle.dumps(event))

    try:
        data = shared or load_mnist(progress=lambda line: send(Said(line)))
        if stop.is_set():
            send(Stopped())
            return
        send(Began())
        stopped, model = _run(order, data, send, stop, pages)
        if not stopped and order.score_on is not None:
            send(class_score(model, order.score_on))
        send(Stopped() if stopped else Finished(order.path))
    except DataError as err:  # offline: one line on the page, no folder in it; the details go to the log
        print(f"lenet: MNIST is not available: {err}", file=sys.stderr, flush=True)
        send(Failed(Message("data.offline")))
    except Exception as err:  # shown on the page; the server keeps running
        send(Failed(Message("job.failed", error=message_of(err) or str(err))))
    finally:
        pipe.close()


def _run(order: Order, data: Mnist, send: Callable[[Any], None], stop: Any, pages: Any) -> tuple[bool, nn.Module]:
    """Train (or fine-tune) as ordered; whether Stop ended it, and the model."""
    resume = pickle.loads(order.resume) if order.resume is not None else None
    tuning, config = order.tuning, order.config
    if tuning is None:
        history = list(resume["history"]) if resume is not None else []
        if order.threads is not None:
            torch.set_num_threads(order.threads)
        hook = LiveHook(send, stop, pages, order, history, govern=order.threads is None, data=data)
        trained = train(config, data, hardened(hook, config), resume)
        return trained.stopped, trained.model
    hook = LiveHook(send, stop, pages, order, list(resume["history"]), data=data)
    tuned = finetune(tuning.source, tuning.folder, data, layers=config.layers, epochs=config.epochs,
                     replay=tuning.replay, seed=config.seed, hook=hook)
    if tuned.history:  # at least one epoch: the run is saved, now with its report
        send(FineTuned(checkpoint_of(tuned)["finetune"]))
        save_finetuned(order.path, tuned, for_checkpoint(tuned.model, data))
    return tuned.stopped, tuned.model


def class_score(model: nn.Module, folder: Path) -> Scored:
    """The model's accuracy on every readable drawing of the class collection in `folder` (this
    process's own model: evaluate() switches it to eval mode)."""
    drawings = collection.read(folder)
    if not drawings.items:
        return Scored(accuracy=None, count=0, drawings=collection.set_name([]))
    return Scored(accuracy=evaluate(model, class_split(drawings.items, drawings.images)).accuracy,
                  count=len(drawings.items), drawings=collection.set_name(drawings.items))
