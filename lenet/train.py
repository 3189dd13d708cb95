"""One training loop for the CLI and the app: progress reports, a stop flag, evaluation."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .data import BACKGROUND, Mnist, Split
from .fast import accelerate
from .models import ACTIVATIONS, MODELS, POOLS, build_model, resolve_options
from .settings import setting, settings_of

__all__ = ["DEVICES", "OPTIMIZERS", "SCHEDULES", "BatchReport", "EpochReport", "EvalResult", "TrainConfig",
           "TrainResult", "augment", "evaluate", "pick_device", "train"]

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("onecycle", "constant")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    """A training recipe. The defaults are the fast recipe; every field states its limits once."""
    model: str = setting("lenet5", "Model to train", "lenet5: ReLU and max-pooling · lenet5-classic: LeCun 1998 · "
                         "mlp: no convolutions", choices=tuple(MODELS))
    activation: str | None = setting(None, "Activation", "try sigmoid on lenet5 to see why modern nets use "
                                     "ReLU", choices=tuple(ACTIVATIONS))
    pool: str | None = setting(None, "Pooling", "max or average; LeNets only", choices=tuple(POOLS))
    optimizer: str = setting("adamw", "Optimizer", "adamw, adam, or sgd with Nesterov momentum 0.9",
                             choices=OPTIMIZERS)
    lr: float = setting(1.5e-2, "Learning rate (peak)", "the peak of the one-cycle schedule; 0.015 was chosen "
                        "on a validation split", low=1e-6, high=10.0, step=1e-3)
    schedule: str = setting("onecycle", "Schedule", "onecycle: warm up, then anneal · constant: the same lr "
                            "throughout", choices=SCHEDULES)
    epochs: int = setting(1, "Epochs", "passes over the training set; with one-cycle, lenet5 gets about "
                          "99% test accuracy in one", low=1, high=100)
    batch_size: int = setting(128, "Batch size", "images per step; 256 runs ~15% faster per image but needs a "
                              "second epoch for 99%", low=1, high=4096)
    limit: int | None = setting(None, "Training images", "train on the first N training images only: a "
                                "quicker demo, or a dry run", low=1, high=60_000, step=1000)
    weight_decay: float = setting(0.0, "Weight decay", "L2 penalty (decoupled for adamw)", low=0.0, high=1.0,
                                  step=1e-4)
    label_smoothing: float = setting(0.1, "Label smoothing", "softer targets: +0.1-0.2% validation accuracy "
                                     "in one epoch", low=0.0, high=0.5, step=0.05)
    seed: int = setting(0, "Seed", "the same seed gives the same run", low=0, high=2**31 - 1)
    augment: bool = setting(False, "Augment (small random shifts, turns, stretches)",
                            "a small random affine on every batch")
    device: str = setting("auto", "Device", "auto picks cuda, then mps, then cpu", choices=DEVICES, form=False)
    val_size: int = setting(0, "Validation images", "hold out N training images and report on them instead "
                            "of the test set, so tuning never looks at it", low=0, high=59_000, form=False)
    log_every: int = setting(20, "Report every", "batches between progress reports", low=1, high=10_000,
                             form=False, cli=False)

    def validate(self) -> None:
        """Raise ValueError, saying what is wrong, for any setting out of range."""
        for s in settings_of(TrainConfig):
            problem = s.problem(getattr(self, s.name))
            if problem:
                raise ValueError(problem)
        resolve_options(self.model, activation=self.activation, pool=self.pool)
        pick_device(self.device)

    def to_dict(self) -> dict:
        return asdict(self)


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

    def to_dict(self) -> dict:
        """The history record: fixed keys, whichever split was evaluated."""
        return {"epoch": self.epoch, "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
                "eval_split": self.eval_split, "eval_loss": self.eval_loss, "eval_accuracy": self.eval_accuracy,
                "elapsed_s": self.elapsed_s, "train_s": self.train_s, "samples_per_s": self.samples_per_s}


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)  # one EpochReport.to_dict() per completed epoch
    stopped: bool = False  # True if the stop flag ended training early
    device: str = "cpu"


def pick_device(name: str = "auto") -> torch.device:
    """auto picks cuda, then mps, then cpu; an explicit device that isn't there is an error."""
    has = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if has[d]))
    if name not in has:
        raise ValueError(f"device must be auto, cpu, cuda or mps, got {name!r}")
    if not has[name]:
        raise ValueError(f"device {name!r} is not available on this machine; use --device auto")
    return torch.device(name)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine per image, on the whole batch at once: ±10° rotation, ±10% scale,
    ±0.1 shear, ±2 px shift. x: (B, 1, 28, 28) normalised -> same shape."""
    b = x.shape[0]
    r = torch.rand(b, 5, generator=gen).to(x.device) * 2 - 1  # (B, 5) in [-1, 1)
    angle, scale, shear = r[:, 0] * math.radians(10), 1 + 0.1 * r[:, 1], 0.1 * r[:, 2]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin + shear * cos, r[:, 3] * 2 / 14], 1),  # 2 px of the [-1, 1] grid is 2/14
        torch.stack([sin, cos + shear * sin, r[:, 4] * 2 / 14], 1),
    ], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample fills with 0, so shift blank paper to 0 first.
    return F.grid_sample(x - BACKGROUND, grid, align_corners=False) + BACKGROUND


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = 1000) -> EvalResult:
    """Loss, accuracy, confusion matrix and per-image predictions on a split. Switches `model`
    to eval mode: pass your own model, not one other threads use."""
    model.eval()
    device = next(model.parameters()).device
    losses, predicted, confidence = [], [], []
    for i in range(0, len(split), batch_size):
        logits = model(split.x[i:i + batch_size].to(device))
        y = split.y[i:i + batch_size].to(device)
        losses.append(F.cross_entropy(logits, y, reduction="sum"))
        conf, pred = F.softmax(logits, 1).max(1)
        predicted.append(pred.cpu())
        confidence.append(conf.cpu())
    predicted, confidence = torch.cat(predicted), torch.cat(confidence)
    confusion = torch.bincount(split.y * 10 + predicted, minlength=100).view(10, 10)
    return EvalResult(loss=float(sum(losses)) / len(split), accuracy=float((predicted == split.y).float().mean()),
                      confusion=confusion, predicted=predicted, confidence=confidence)


def _optimizer(cfg: TrainConfig, model: nn.Module, device: torch.device) -> torch.optim.Optimizer:
    # fused: one kernel per step instead of a dozen per parameter; 1.7 -> 0.3 ms per batch on CPU
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
    params = model.parameters()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay, **fused)
    opt = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return opt(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)


def _schedule(cfg: TrainConfig, opt: torch.optim.Optimizer, total_steps: int):
    if cfg.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.25)


def train(
    cfg: TrainConfig,
    data: Mnist,
    on_batch: Callable[[BatchReport, nn.Module], None] | None = None,
    on_epoch: Callable[[EpochReport, nn.Module], None] | None = None,
    stop: threading.Event | None = None,
    fast: bool = True,
) -> TrainResult:
    """Train a fresh model as `cfg` says, on data.train, reporting on data.val (or data.test).

    on_batch is called every cfg.log_every batches and on each epoch's last batch; on_epoch after
    each epoch's evaluation (save a checkpoint there). Both get the plain model too, between
    batches. Setting `stop` ends training before the next batch; the model then holds a partly
    trained epoch, history only whole ones. `fast` trains through lenet.fast's kernels (the same
    function, faster on CPU); the plain model is what is returned either way.
    """
    cfg.validate()
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = build_model(cfg.model, activation=cfg.activation, pool=cfg.pool).to(device)
    net = accelerate(model) if fast else model  # shares model's weights
    train_set = data.train.head(cfg.limit)
    eval_split, eval_set = ("val", data.val) if data.val is not None else ("test", data.test)
    x, y = train_set.x.to(device), train_set.y.to(device)
    n, bs = len(y), cfg.batch_size
    batches = math.ceil(n / bs)
    opt = _optimizer(cfg, model, device)
    sched = _schedule(cfg, opt, cfg.epochs * batches)
    gen = torch.Generator().manual_seed(cfg.seed)
    result = TrainResult(model=model, device=str(device))
    start, train_s = time.perf_counter(), 0.0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        order = torch.randperm(n, generator=gen).to(device)
        loss_sum = torch.zeros((), device=device)  # kept on the device: no sync per batch
        correct = torch.zeros((), device=device, dtype=torch.long)
        for b in range(batches):
            if stop is not None and stop.is_set():
                result.stopped = True
                return result
            idx = order[b * bs:(b + 1) * bs]
            xb, yb = x[idx], y[idx]  # (bs, 1, 28, 28), (bs,)
            if cfg.augment:
                xb = augment(xb, gen)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach() * len(yb)
            correct += (logits.detach().argmax(1) == yb).sum()
            if on_batch is not None and ((b + 1) % cfg.log_every == 0 or b + 1 == batches):
                seen = min((b + 1) * bs, n)
                now = time.perf_counter()
                on_batch(BatchReport(epoch, b + 1, batches, loss.item(), float(correct) / seen,
                                     seen / (now - epoch_start), now - start), model)
        epoch_s = time.perf_counter() - epoch_start
        train_s += epoch_s
        ev = evaluate(net, eval_set)
        report = EpochReport(epoch, float(loss_sum) / n, float(correct) / n, eval_split, ev.loss, ev.accuracy,
                             time.perf_counter() - start, train_s, n / epoch_s, evaluation=ev)
        result.history.append(report.to_dict())
        if on_epoch is not None:
            on_epoch(report, model)
    return result
