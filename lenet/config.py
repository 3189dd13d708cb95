"""The training recipe: every setting with its label, help and limits, written once (see
settings.py), and the device it runs on. The command line's `train` arguments and the Train
page's form are both built from TrainConfig."""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .data import TRAIN_SIZE
from .designs import DesignError, check, parse, text_of
from .messages import Message
from .models import ACTIVATIONS, LAYERS, POOLS, learning_parameters
from .registry import MODELS, build_model, resolve_options
from .settings import Setting, setting, settings_of

__all__ = ["DEVICES", "KERNELS", "OPTIMIZERS", "SCHEDULES", "TrainConfig", "pick_device", "recipe_settings"]

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("onecycle", "constant")
DEVICES = ("auto", "cpu", "cuda", "mps")
KERNELS = ("fast", "plain")


@dataclass
class TrainConfig:
    """A training recipe. The defaults are the fast recipe; every field states its limits once."""
    model: str = setting("lenet5", "Model to train", "lenet5: ReLU and max-pooling · lenet5-classic: LeCun 1998 · "
                         "mlp: no convolutions · design: your own (Design)", choices=tuple(MODELS))
    design: str | None = setting(None, "Design", "your own network as text, e.g. c6k5p2-m2-c16k5-m2-f120-f84 "
                                 "(lenet/designs.py says how to write one); sets the model to design", form=False)
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
                                "quicker demo, or a dry run", low=1, high=TRAIN_SIZE, step=1000)
    weight_decay: float = setting(0.0, "Weight decay", "L2 penalty (decoupled for adamw)", low=0.0, high=1.0,
                                  step=1e-4)
    label_smoothing: float = setting(0.1, "Label smoothing", "softer targets: +0.1-0.2% validation accuracy "
                                     "in one epoch", low=0.0, high=0.5, step=0.05)
    seed: int = setting(0, "Seed", "the same seed gives the same run", low=0, high=2**31 - 1)
    augment: bool = setting(False, "Augment", "small random shifts, turns and stretches of every batch")
    adversarial: float = setting(0.0, "Adversarial ε", "train on FGSM examples too: half of every batch is moved "
                                 "by this ε (pixels, 0..1) against the model as it is; 0 is off. Slower, but "
                                 "far harder to fool", low=0.0, high=0.5, step=0.05)
    layers: str = setting("all", "Layers that learn", "all, or the classifier only: fine-tuning keeps the learned "
                          "features", choices=LAYERS, form=False)
    device: str = setting("auto", "Device", "auto picks cuda, then mps, then cpu", choices=DEVICES, form=False)
    val_size: int = setting(0, "Validation images", "hold out N training images and report on them instead "
                            "of the test set, so tuning never looks at it", low=0, high=TRAIN_SIZE - 1000,
                            form=False)  # at least 1,000 left to train on
    max_params: int | None = setting(None, "Most parameters", "refuse a design with more parameters than this "
                                     "(a class budget's limit); none unless asked", low=1, high=10**10, form=False)
    max_multiply_adds: int | None = setting(None, "Most multiply-adds", "refuse a design that does more "
                                            "multiply-adds for one digit than this; none unless asked", low=1,
                                            high=10**12, form=False)
    kernels: str = setting("fast", "Kernels", "fast: lenet/fast.py's fused conv+pool for the LeNets, the same "
                           "function ~1.2× quicker on a CPU (docs/performance.md) · plain: the model's own "
                           "layers", choices=KERNELS, form=False)

    def __post_init__(self) -> None:
        if self.design is not None:
            self.model = "design"
            with contextlib.suppress(DesignError, AttributeError):  # validate() refuses a bad one, saying why
                self.design = text_of(parse(self.design))  # one spelling: c6k5p2-m2-…

    def model_options(self) -> dict[str, Any]:
        """What build_model(self.model, ...) takes: the activation, and the pooling or the design."""
        return {"activation": self.activation, "pool": self.pool, "spec": self.design}

    def validate(self) -> None:
        """Raise ValueError, saying what is wrong, for any setting out of range."""
        for s in settings_of(TrainConfig):
            problem = s.problem(getattr(self, s.name))
            if problem:
                raise ValueError(problem)
        resolve_options(self.model, **self.model_options())
        if self.model == "design":  # over a budget's limits: refused before anything is built
            found = check(self.design or "", self.activation or "relu", max_params=self.max_params,
                          max_multiply_adds=self.max_multiply_adds)
            if found.problem is not None:
                raise ValueError(found.problem)
        if self.layers != "all" or self.model == "design":  # a design can be impossible: building it says why
            with torch.device("meta"):  # no memory, no draw on the random generator: only its structure is read
                learning_parameters(build_model(self.model, **self.model_options()), self.layers)
        pick_device(self.device)

    def to_dict(self) -> dict:
        return asdict(self)


def pick_device(name: str = "auto") -> torch.device:
    """auto picks cuda, then mps, then cpu; an explicit device that isn't there is an error."""
    has = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if has[d]))
    if name not in has:
        raise ValueError(Message("device.unknown", choices=", ".join(DEVICES), value=name))
    if not has[name]:
        raise ValueError(Message("device.unavailable", value=name))
    return torch.device(name)


def recipe_settings() -> list[Setting]:
    """The settings a person sets, in field order: the Train page's form and a lesson link offer
    these (the rest, such as the device, are the command line's)."""
    return [s for s in settings_of(TrainConfig) if s.form]
