"""The training loop, for the command line and the app alike: the textbook part of LeNet Lab.

    result = train(TrainConfig(epochs=2), load_mnist())

For each epoch, for each batch: forward, loss, backward, step; then evaluate on the test set.
Everything else a run does (print, save, draw live charts, film the filters, honour Stop) lives
around the loop, in a `Hook` that it calls between batches; the loop knows nothing about any of it.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig, pick_device
from .data import Batches, Mnist, Split
from .fast import accelerate
from .messages import Message
from .models import learning_parameters
from .registry import build_model

__all__ = ["BatchReport", "EpochReport", "EvalResult", "Hook", "Progress", "TrainResult", "evaluate", "train",
           "train_one_epoch"]

@dataclass
class BatchReport:
    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    batches: int  # batches per epoch
    loss: float  # this batch
    accuracy: float  # running accuracy over the epoch so far, 0..1
    samples_per_s: float  # this epoch so far
    elapsed_s: float  # since training began


@dataclass
class EvalResult:
    loss: float
    accuracy: float  # 0..1
    confusion: torch.Tensor  # (10, 10) counts, rows = true label, columns = prediction
    predicted: torch.Tensor  # (N,) predicted labels
    confidence: torch.Tensor  # (N,) probability of the predicted label

    @property
    def per_class(self) -> list[float]:
        totals = self.confusion.sum(1).clamp(min=1)
        return (self.confusion.diag() / totals).tolist()

    def confident_mistakes(self, labels: torch.Tensor, k: int = 24) -> list[int]:
        """The images it got wrong with the highest confidence, surest first: at most k indices."""
        wrong = torch.nonzero(self.predicted != labels).flatten()  # (W,)
        return wrong[self.confidence[wrong].argsort(descending=True, stable=True)][:k].tolist()


@dataclass
class EpochReport:
    epoch: int
    train_loss: float  # mean over the epoch's batches
    train_accuracy: float
    eval_split: str  # "test", or "val" when a validation split is held out
    eval_loss: float
    eval_accuracy: float
    elapsed_s: float  # since training began, evaluation included
    train_s: float  # time spent in training steps so far, evaluation excluded
    samples_per_s: float  # training samples per second this epoch
    evaluation: EvalResult | None = field(default=None, repr=False)  # confusion, predictions: not in to_dict
    optimizer: dict | None = field(default=None, repr=False)  # its state_dict, so the run can be continued

    def to_dict(self) -> dict:
        """The history record: fixed keys, whichever split was evaluated."""
        return {"epoch": self.epoch, "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
                "eval_split": self.eval_split, "eval_loss": self.eval_loss, "eval_accuracy": self.eval_accuracy,
                "elapsed_s": self.elapsed_s, "train_s": self.train_s, "samples_per_s": self.samples_per_s}


@dataclass
class Progress:
    """Where a run is: what the loop keeps, and what a Hook reads (never changes) between batches."""
    cfg: TrainConfig
    model: nn.Module  # what the loop trains; its state_dict is the plain model's (see lenet/fast.py)
    eval_split: str  # "test", or "val" when a validation split is held out
    eval_set: Split
    samples: int  # training images per epoch
    batches: int  # batches per epoch
    first_epoch: int  # 1, or the next epoch of a continued run
    epoch: int = 0  # the epoch under way, 1-based
    batch: int = 0  # batches done in this epoch
    loss: torch.Tensor | None = None  # the last batch's, still on the device
    loss_sum: torch.Tensor | None = None  # over this epoch so far, on the device: read only when reported
    correct: torch.Tensor | None = None
    started: float = field(default_factory=time.perf_counter)
    epoch_started: float = 0.0  # perf_counter before this epoch's first batch
    epoch_ended: float = 0.0  # and after its last
    train_s: float = 0.0  # in training steps so far, evaluation excluded

    @property
    def seen(self) -> int:
        """Training images seen in this epoch."""
        return min(self.batch * self.cfg.batch_size, self.samples)

    @property
    def epochs_done(self) -> float:
        """Epochs done since the model was made, fractional: 0.35 into the first epoch."""
        return self.epoch - 1 + self.batch / self.batches

    @property
    def samples_done(self) -> int:
        """Training images seen by this run (a continued run counts from its own start)."""
        return (self.epoch - self.first_epoch) * self.samples + self.seen

    @property
    def running_accuracy(self) -> float | None:
        """Over this epoch's batches so far; None before the first."""
        return float(self.correct) / self.seen if self.batch else None

    def report(self) -> BatchReport:
        """The last batch, for a progress line or a chart (reading it waits for the device)."""
        now = time.perf_counter()
        return BatchReport(epoch=self.epoch, batch=self.batch, batches=self.batches, loss=float(self.loss),
                           accuracy=self.running_accuracy, samples_per_s=self.seen / (now - self.epoch_started),
                           elapsed_s=now - self.started)


class Hook:
    """What a run does around the loop. Each method is called between batches, when the weights are
    consistent; override the ones you need. The command line's hook prints and saves; the app's
    (lenet/classroom/trainer.py) sends the live charts to the server and honours Stop; hardening
    (lenet/inside/adversarial.py) changes the batch the model learns from."""

    def before_batch(self, progress: Progress) -> bool:
        """Before every batch; return False to stop training here."""
        return True

    def batch(self, progress: Progress, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The images (B, 1, 28, 28) the model learns from in this step, for labels y (B,): as
        they come, unless a hook changes them."""
        return x

    def after_batch(self, progress: Progress) -> None:
        """After every optimiser step."""

    def after_epoch(self, progress: Progress, report: EpochReport) -> None:
        """After each epoch's evaluation of the whole eval split: save a checkpoint here."""


@dataclass
class TrainResult:
    model: nn.Module  # the plain model (models.py), trained
    history: list[dict] = field(default_factory=list)  # one EpochReport.to_dict() per epoch completed here
    stopped: bool = False  # True if the hook stopped training early
    device: str = "cpu"


def train(cfg: TrainConfig, data: Mnist, hook: Hook | None = None, resume: dict | None = None) -> TrainResult:
    """Train a model as `cfg` says on data.train, evaluating each epoch on data.val (or data.test).

    Args:
        hook: called between batches and after each epoch (see Hook). If it stops the run, the
            model holds a partly trained epoch, and the history only whole ones.
        resume: a saved run (a checkpoint dict) to continue for cfg.epochs more epochs, from its
            weights and, if saved, its optimiser state; the schedule starts a new cycle.
    With cfg.layers "classifier" only model.classifier learns: model.features keeps its weights.
    cfg.adversarial needs a hook that hardens the batch (lenet.inside.adversarial.hardened(hook, cfg)).
    """
    hook = hook or Hook()
    if cfg.adversarial and type(hook).batch is Hook.batch:  # the setting would do nothing: say so, never ignore it
        raise ValueError(Message("train.adversarial_hook"))
    plain, progress, opt, sched = _setup(cfg, data, resume)
    device = next(plain.parameters()).device
    batches = Batches(split=data.train.head(cfg.limit), size=cfg.batch_size, device=device, augment=cfg.augment,
                      seed=cfg.seed + progress.first_epoch - 1)  # a continued run shuffles anew
    result = TrainResult(model=plain, device=str(device))
    with _frozen(plain, learning_parameters(plain, cfg.layers)):
        for epoch in range(progress.first_epoch, progress.first_epoch + cfg.epochs):
            if not train_one_epoch(progress, epoch, batches, opt, sched, hook):
                result.stopped = True
                break
            report = _epoch_report(progress, evaluate(progress.model, progress.eval_set), opt)
            result.history.append(report.to_dict())
            hook.after_epoch(progress, report)
    return result


def train_one_epoch(progress: Progress, epoch: int, batches: Batches, opt: torch.optim.Optimizer,
                    sched: torch.optim.lr_scheduler.LRScheduler, hook: Hook) -> bool:
    """One pass over the training images, in a fresh order; False if the hook stopped it."""
    progress.model.train()
    _begin_epoch(progress, epoch, batches.device)
    for xb, yb in batches:  # (B, 1, 28, 28), (B,)
        if not hook.before_batch(progress):
            return False
        xb = hook.batch(progress, xb, yb)  # as it comes, or hardened against the model as it is now
        logits = progress.model(xb)  # (B, 10)
        loss = F.cross_entropy(logits, yb, label_smoothing=progress.cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        _count(progress, loss.detach(), logits.detach(), yb)
        hook.after_batch(progress)
    progress.epoch_ended = time.perf_counter()
    progress.train_s += progress.epoch_ended - progress.epoch_started
    return True


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = 1000) -> EvalResult:
    """Loss, accuracy, confusion matrix and per-image predictions on a split. Switches `model`
    to eval mode: pass your own model, not one other threads use."""
    model.eval()
    device = next(model.parameters()).device
    losses, predicted, confidence = [], [], []
    for i in range(0, len(split), batch_size):
        logits = model(split.x[i:i + batch_size].to(device))  # (B, 10)
        y = split.y[i:i + batch_size].to(device)
        losses.append(F.cross_entropy(logits, y, reduction="sum"))
        conf, pred = F.softmax(logits, 1).max(1)
        predicted.append(pred.cpu())
        confidence.append(conf.cpu())
    predicted, confidence = torch.cat(predicted), torch.cat(confidence)
    confusion = torch.bincount(split.y * 10 + predicted, minlength=100).view(10, 10)
    return EvalResult(loss=float(sum(losses)) / len(split), accuracy=float((predicted == split.y).float().mean()),
                      confusion=confusion, predicted=predicted, confidence=confidence)


def _setup(cfg: TrainConfig, data: Mnist, resume: dict | None) -> tuple[nn.Module, Progress, torch.optim.Optimizer,
                                                                        torch.optim.lr_scheduler.LRScheduler]:
    """The plain model (fresh, or the saved run's), the Progress that trains it, its optimiser and schedule."""
    cfg.validate()
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    plain = build_model(cfg.model, **cfg.model_options()).to(device)
    if resume is not None:
        plain.load_state_dict(resume["state_dict"])
    model = accelerate(plain) if cfg.kernels == "fast" else plain  # the same weights, computed faster on a CPU
    eval_split, eval_set = ("val", data.val) if data.val is not None else ("test", data.test)
    samples = len(data.train.head(cfg.limit))
    done = 0 if resume is None else len(resume["history"])  # epochs already trained
    progress = Progress(cfg=cfg, model=model, eval_split=eval_split, eval_set=eval_set, samples=samples,
                   batches=math.ceil(samples / cfg.batch_size), first_epoch=done + 1)
    opt = _optimizer(cfg, learning_parameters(plain, cfg.layers), device)
    if resume is not None and resume.get("optimizer") and _same_layers(resume, cfg.layers):
        opt.load_state_dict(resume["optimizer"])
    return plain, progress, opt, _schedule(cfg, opt, cfg.epochs * progress.batches)


def _begin_epoch(progress: Progress, epoch: int, device: torch.device) -> None:
    progress.epoch, progress.batch, progress.epoch_started = epoch, 0, time.perf_counter()
    progress.loss_sum = torch.zeros((), device=device)  # kept on the device: no wait for it every batch
    progress.correct = torch.zeros((), device=device, dtype=torch.long)


def _count(progress: Progress, loss: torch.Tensor, logits: torch.Tensor, yb: torch.Tensor) -> None:
    progress.batch += 1
    progress.loss = loss
    progress.loss_sum += loss * len(yb)
    progress.correct += (logits.argmax(1) == yb).sum()


def _epoch_report(progress: Progress, ev: EvalResult, opt: torch.optim.Optimizer) -> EpochReport:
    epoch_s = progress.epoch_ended - progress.epoch_started  # the training steps only, not the evaluation
    return EpochReport(epoch=progress.epoch, train_loss=float(progress.loss_sum) / progress.samples,
                       train_accuracy=float(progress.correct) / progress.samples, eval_split=progress.eval_split,
                       eval_loss=ev.loss, eval_accuracy=ev.accuracy, elapsed_s=time.perf_counter() - progress.started,
                       train_s=progress.train_s, samples_per_s=progress.samples / epoch_s, evaluation=ev,
                       optimizer=opt.state_dict())


@contextmanager
def _frozen(model: nn.Module, learning: list[nn.Parameter]) -> Iterator[None]:
    """Parameters outside `learning` get no gradients while inside, and theirs back after: the
    features block then runs its forward without an autograd graph, and is never changed."""
    keep = {id(p) for p in learning}
    frozen = [p for p in model.parameters() if id(p) not in keep and p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in frozen:
            p.requires_grad_(True)


def _optimizer(cfg: TrainConfig, params: list[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    # fused: one kernel per step instead of a dozen per parameter; 1.7 -> 0.3 ms per batch on CPU
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay, **fused)
    opt = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return opt(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)


def _same_layers(resume: dict, layers: str) -> bool:
    """Whether a saved run's optimizer state is for the layers that learn now (runs saved before
    the setting existed trained all of them). A run that changes them starts with fresh moments."""
    return (resume.get("train") or {}).get("layers", "all") == layers


def _schedule(cfg: TrainConfig, opt: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    # One-cycle needs a few steps to warm up in: with 4 it divides by zero (PyTorch's phase of
    # 0 steps), so a tiny run (--limit 500) keeps its lr constant instead.
    if cfg.schedule == "constant" or total_steps < 8:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.25)
