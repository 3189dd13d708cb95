"""One training loop for the CLI and the app: progress reports, a stop flag, evaluation."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import BACKGROUND, Mnist, Split
from .fast import accelerate
from .introspect import feature_maps, filters, has_feature_maps
from .models import ACTIVATIONS, MODELS, POOLS, build_model, resolve_options
from .settings import setting, settings_of

__all__ = ["DEVICES", "LAYERS", "OPTIMIZERS", "SCHEDULES", "BatchReport", "EpochReport", "EvalResult",
           "ProbeReport", "Frame", "TrainConfig", "TrainResult", "augment", "evaluate", "learning_parameters",
           "pick_device", "train"]

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("onecycle", "constant")
LAYERS = ("all", "classifier")
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
    epochs: int = setting(1, "Epochs", "passes over the training set; with one-cycle, lenet5 gets 98.9-99.0% "
                          "test accuracy in one, 99.1-99.3% in two", low=1, high=100)
    batch_size: int = setting(128, "Batch size", "images per step; 256 runs ~15% faster per image but needs a "
                              "second epoch for 99%", low=1, high=4096)
    limit: int | None = setting(None, "Training images", "train on the first N training images only: a "
                                "quicker demo, or a dry run", low=1, high=60_000, step=1000)
    weight_decay: float = setting(0.0, "Weight decay", "L2 penalty (decoupled for adamw)", low=0.0, high=1.0,
                                  step=1e-4)
    label_smoothing: float = setting(0.1, "Label smoothing", "softer targets: +0.1-0.2% validation accuracy "
                                     "in one epoch", low=0.0, high=0.5, step=0.05)
    seed: int = setting(0, "Seed", "the same seed gives the same run", low=0, high=2**31 - 1)
    augment: bool = setting(False, "Augment", "small random shifts, turns and stretches of every batch")
    layers: str = setting("all", "Layers that learn", "all, or the classifier only: fine-tuning keeps the learned "
                          "features", choices=LAYERS, form=False)
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
        if self.layers != "all":
            with torch.device("meta"):  # no memory, no draw on the random generator: only its structure is read
                learning_parameters(build_model(self.model, activation=self.activation, pool=self.pool), self.layers)
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
    optimizer: dict | None = field(default=None, repr=False)  # its state_dict, so the run can be continued

    def to_dict(self) -> dict:
        """The history record: fixed keys, whichever split was evaluated."""
        return {"epoch": self.epoch, "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
                "eval_split": self.eval_split, "eval_loss": self.eval_loss, "eval_accuracy": self.eval_accuracy,
                "elapsed_s": self.elapsed_s, "train_s": self.train_s, "samples_per_s": self.samples_per_s}


@dataclass
class ProbeReport:
    """A live look during an epoch, about once a second: the running train accuracy, and the model
    on a fixed slice of the eval split (the same images every time, so the curve is comparable)."""
    progress: float  # epochs done, e.g. 0.35 into the first epoch
    train_accuracy: float | None  # over this epoch's batches so far; None before the first batch
    eval_split: str  # "test" or "val"
    eval_loss: float  # on the slice
    eval_accuracy: float
    evaluation: EvalResult = field(repr=False)  # the slice's confusion matrix and predictions


@dataclass(frozen=True, eq=False)  # eq=False: frames are compared by identity, not tensor by tensor
class Frame:
    """The conv1 filters, and the feature maps of one fixed digit, at one moment of training."""
    samples: int  # training samples seen so far in this run
    progress: float  # epochs done, fractional
    filters: np.ndarray  # conv1's kernels (6, 1, 5, 5), float32
    maps: dict[str, np.ndarray]  # conv1 (6, 28, 28) and conv2 (16, 10, 10) for the fixed digit


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)  # one EpochReport.to_dict() per epoch completed here
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


def learning_parameters(model: nn.Module, layers: str = "all") -> list[nn.Parameter]:
    """The parameters that `layers` lets learn: all of them, or those of `model.classifier` only
    (its convolutional `features` stay as they are). Raises ValueError for a model without a
    `features` block, such as the MLP, whose layers are all its classifier."""
    if layers == "all":
        return list(model.parameters())
    if layers != "classifier":
        raise ValueError(f"layers that learn must be {' or '.join(LAYERS)}, got {layers!r}")
    if not isinstance(getattr(model, "features", None), nn.Module):
        raise ValueError(f"{type(model).__name__} has no feature layers to keep, so it can't learn in its "
                         "classifier only: let all layers learn")
    return list(model.classifier.parameters())


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


def _schedule(cfg: TrainConfig, opt: torch.optim.Optimizer, total_steps: int):
    # One-cycle needs a few steps to warm up in: with 4 it divides by zero (PyTorch's phase of
    # 0 steps), so a tiny run (--limit 500) keeps its lr constant instead.
    if cfg.schedule == "constant" or total_steps < 8:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.25)


def train(
    cfg: TrainConfig,
    data: Mnist,
    on_batch: Callable[[BatchReport, nn.Module], None] | None = None,
    on_epoch: Callable[[EpochReport, nn.Module], None] | None = None,
    stop: threading.Event | None = None,
    fast: bool = True,
    *,
    on_probe: Callable[[ProbeReport], None] | None = None,
    probe_every_s: float = 1.0,
    probe_size: int = 1000,
    pause: Callable[[], None] | None = None,
    resume: dict | None = None,
    on_frame: Callable[[Frame], None] | None = None,
    frame_every: int = 500,
) -> TrainResult:
    """Train a model as `cfg` says, on data.train, reporting on data.val (or data.test).

    on_batch is called every cfg.log_every batches and on each epoch's last batch; on_epoch after
    each epoch's evaluation of the whole split (save a checkpoint there). Both get the plain model
    too, between batches. on_probe, if given, gets a ProbeReport before the first batch and then
    at least every `probe_every_s` seconds of training, from the first `probe_size` eval images.
    `pause`, if given, is called before every batch and may wait (the app lets predictions go
    first). Setting `stop` ends training before the next batch; the model then holds a partly
    trained epoch, history only whole ones. `fast` trains through lenet.fast's kernels (the same
    function, faster on CPU); the plain model is what is returned either way.
    on_frame, if given and the model has convolutions, gets a Frame before the first batch
    and then every `frame_every` training samples (the first eval image is the fixed digit).
    `resume` continues a saved run (a checkpoint dict) for cfg.epochs more epochs: its weights and,
    if saved, its optimizer state; the schedule starts a new cycle over the added epochs.
    cfg.layers "classifier" trains model.classifier only: model.features gets no gradients (and
    keeps its weights bit for bit) during the run; its requires_grad is restored afterwards.
    """
    cfg.validate()
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = build_model(cfg.model, activation=cfg.activation, pool=cfg.pool).to(device)
    done = 0 if resume is None else len(resume["history"])  # epochs already trained
    if resume is not None:
        model.load_state_dict(resume["state_dict"])
    net = accelerate(model) if fast else model  # shares model's weights
    train_set = data.train.head(cfg.limit)
    eval_split, eval_set = ("val", data.val) if data.val is not None else ("test", data.test)
    x, y = train_set.x.to(device), train_set.y.to(device)
    n, bs = len(y), cfg.batch_size
    batches = math.ceil(n / bs)
    learning = learning_parameters(model, cfg.layers)  # all of them, or the classifier's
    opt = _optimizer(cfg, learning, device)
    if resume is not None and resume.get("optimizer") and _same_layers(resume, cfg.layers):
        opt.load_state_dict(resume["optimizer"])
    sched = _schedule(cfg, opt, cfg.epochs * batches)
    gen = torch.Generator().manual_seed(cfg.seed + done)  # a continued run shuffles anew
    result = TrainResult(model=model, device=str(device))
    probe_set = eval_set.head(probe_size)
    start, train_s, probed = time.perf_counter(), 0.0, -math.inf
    snap = _frames(on_frame, model, eval_set.x[:1].to(device), frame_every, float(done))
    with _frozen(model, learning):  # features kept as they are when only the classifier learns
        for epoch in range(done + 1, done + cfg.epochs + 1):
            model.train()
            epoch_start = time.perf_counter()
            order = torch.randperm(n, generator=gen).to(device)
            loss_sum = torch.zeros((), device=device)  # kept on the device: no sync per batch
            correct = torch.zeros((), device=device, dtype=torch.long)
            for b in range(batches):
                if on_probe is not None and time.perf_counter() - probed >= probe_every_s:
                    running = float(correct) / min(b * bs, n) if b else None
                    on_probe(_probe(net, probe_set, eval_split, epoch - 1 + b / batches, running))
                    probed = time.perf_counter()
                if pause is not None:
                    pause()
                if stop is not None and stop.is_set():
                    result.stopped = True
                    return result
                idx = order[b * bs:(b + 1) * bs]
                loss, right = _step(net, opt, cfg, x[idx], y[idx], gen)  # x[idx]: (bs, 1, 28, 28)
                sched.step()
                loss_sum += loss * len(idx)
                correct += right
                snap((epoch - 1 - done) * n + min((b + 1) * bs, n), epoch - 1 + (b + 1) / batches, b + 1 == batches)
                if on_batch is not None and ((b + 1) % cfg.log_every == 0 or b + 1 == batches):
                    seen = min((b + 1) * bs, n)
                    now = time.perf_counter()
                    on_batch(BatchReport(epoch, b + 1, batches, loss.item(), float(correct) / seen,
                                         seen / (now - epoch_start), now - start), model)
            epoch_s = time.perf_counter() - epoch_start
            train_s += epoch_s
            ev = evaluate(net, eval_set)
            report = EpochReport(epoch, float(loss_sum) / n, float(correct) / n, eval_split, ev.loss, ev.accuracy,
                                 time.perf_counter() - start, train_s, n / epoch_s, evaluation=ev,
                                 optimizer=opt.state_dict())
            result.history.append(report.to_dict())
            if on_epoch is not None:
                on_epoch(report, model)
        return result


def _frames(on_frame: Callable[[Frame], None] | None, model: nn.Module, digit: torch.Tensor,
               every: int, start: float) -> Callable[[int, float, bool], None]:
    """A function to call after every batch with (samples seen, epochs done, epoch over): it
    hands on_frame a Frame each time another `every` samples have gone by, at every epoch's
    end, and one at once."""
    if on_frame is None or not has_feature_maps(model):
        return lambda samples, progress, epoch_end=False: None
    last = -every

    def maybe(samples: int, progress: float, epoch_end: bool = False) -> None:
        nonlocal last
        if samples - last >= every or epoch_end:
            last = samples
            # conv1 and conv2 only: the layers after conv2 would double the cost. numpy arrays,
            # because they pickle for the trip to the server ~10× faster than tensors.
            maps = feature_maps(model, digit, ("features.conv1", "features.conv2"))
            on_frame(Frame(samples, progress, filters(model)["conv1"].numpy(),
                           {name: m.numpy() for name, m in maps.items()}))

    maybe(0, start)  # the filters before the first batch: random, or where a continued run left them
    return maybe


def _step(net: nn.Module, opt: torch.optim.Optimizer, cfg: TrainConfig, xb: torch.Tensor, yb: torch.Tensor,
          gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a batch; returns its loss and how many it got right, both
    still on the device (reading them would wait for the device)."""
    if cfg.augment:
        xb = augment(xb, gen)
    logits = net(xb)  # (bs, 10)
    loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach(), (logits.detach().argmax(1) == yb).sum()


def _probe(net: nn.Module, probe_set: Split, split: str, progress: float, running: float | None) -> ProbeReport:
    """The model on the probe slice, between two batches; back in training mode afterwards."""
    ev = evaluate(net, probe_set)
    net.train()
    return ProbeReport(progress, running, split, ev.loss, ev.accuracy, ev)
