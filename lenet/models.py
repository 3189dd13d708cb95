"""LeNet-5 (modern and LeCun-1998 style) and an MLP, built by name from one registry, with the
activations and poolings every model here, and every design (designs.py), is made of.

These are the models a student reads. The faster kernels that training uses live in fast.py.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .data import BACKGROUND
from .messages import Message

__all__ = ["ACTIVATIONS", "LAYERS", "LENET5", "MLP", "MODELS", "POOLS", "LeNet5", "ModelSpec", "build_model",
           "learning_parameters", "resolve_options"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
LAYERS = ("all", "classifier")  # which layers learn: every one, or the classifier only (fine-tuning)
LENET5 = "c6k5p2-m2-c16k5-m2-f120-f84"  # LeNet5 below, written as a design (designs.py): the same layers, names


class LeNet5(nn.Module):
    """LeNet-5 on 28×28 MNIST digits, padded to 32×32 as in LeCun et al. (1998).

    Shapes: 32 -conv5-> 28 -pool2-> 14 -conv5-> 10 -pool2-> 5, then 120 -> 84 -> 10.
    Pooling comes before the activation. For max-pooling this gives exactly the same result as
    activation-then-pool (the activations are monotonic) on 4× fewer values; for average pooling
    it is LeCun's own order: S2 averages, then squashes.

    Args:
        activation: relu | tanh | sigmoid.
        pool: max | avg.
        c5_conv: build C5 as a 5×5 convolution to 120 channels (LeCun 1998) instead of a
            400 -> 120 linear layer. On 5×5 maps the two compute the same function.
    """

    def __init__(self, activation: str = "relu", pool: str = "max", c5_conv: bool = False) -> None:
        super().__init__()
        act, pool_layer = ACTIVATIONS[activation], POOLS[pool]
        self.c5_conv = c5_conv
        features = [
            ("pad", nn.ConstantPad2d(2, BACKGROUND)),  # 28 -> 32, padded with blank paper
            ("conv1", nn.Conv2d(1, 6, 5)),  # C1: 32 -> 28
            ("pool1", pool_layer(2)),  # S2: 28 -> 14
            ("act1", act()),
            ("conv2", nn.Conv2d(6, 16, 5)),  # C3: 14 -> 10 (fully connected, not LeCun's sparse table)
            ("pool2", pool_layer(2)),  # S4: 10 -> 5
            ("act2", act()),
        ]
        if c5_conv:
            features += [("conv3", nn.Conv2d(16, 120, 5)), ("act3", act())]  # C5: 5 -> 1
            head = [("fc1", nn.Linear(120, 84)), ("act4", act()), ("fc2", nn.Linear(84, 10))]
        else:
            head = [("fc1", nn.Linear(400, 120)), ("act3", act()), ("fc2", nn.Linear(120, 84)), ("act4", act()),
                    ("fc3", nn.Linear(84, 10))]
        self.features = nn.Sequential(OrderedDict(features))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(OrderedDict(head))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features
        x = f.pad(x)  # (B, 1, 32, 32)
        x = f.conv1(x)  # (B, 6, 28, 28)
        x = f.pool1(x)  # (B, 6, 14, 14)
        x = f.act1(x)
        x = f.conv2(x)  # (B, 16, 10, 10)
        x = f.pool2(x)  # (B, 16, 5, 5)
        x = f.act2(x)
        if self.c5_conv:
            x = f.conv3(x)  # (B, 120, 1, 1)
            x = f.act3(x)
        x = self.flatten(x)  # (B, 400), or (B, 120) after C5
        return self.classifier(x)  # (B, 10)


class MLP(nn.Module):
    """A 784-250-200-10 multilayer perceptron: no convolutions, so no feature maps.

    Args:
        activation: relu | tanh | sigmoid.
    """

    def __init__(self, activation: str = "relu") -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),  # (B, 1, 28, 28) -> (B, 784)
            ("fc1", nn.Linear(784, 250)), ("act1", act()),
            ("fc2", nn.Linear(250, 200)), ("act2", act()),
            ("fc3", nn.Linear(200, 10)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)  # (B, 10)


def _designed(spec: str = LENET5, activation: str = "relu") -> nn.Module:
    """Your own network, built from its text (designs.py). Imported when a design is built, not
    above: designs.py builds on this file's ACTIVATIONS and POOLS."""
    from .designs import Designed

    return Designed(spec, activation)


@dataclass(frozen=True)
class ModelSpec:
    builder: Callable[..., nn.Module]
    defaults: dict[str, Any]
    about: str
    options: dict[str, tuple] = field(default_factory=lambda: {"activation": tuple(ACTIVATIONS)})


MODELS: dict[str, ModelSpec] = {
    "lenet5": ModelSpec(builder=LeNet5, defaults={"activation": "relu", "pool": "max"},
                        about="LeNet-5, modern: ReLU and max-pooling",
                        options={"activation": tuple(ACTIVATIONS), "pool": tuple(POOLS)}),
    "lenet5-classic": ModelSpec(builder=LeNet5, defaults={"activation": "tanh", "pool": "avg", "c5_conv": True},
                                about="LeNet-5 as in LeCun 1998: tanh, average pooling, C5 as a convolution",
                                options={"activation": tuple(ACTIVATIONS), "pool": tuple(POOLS)}),
    "mlp": ModelSpec(builder=MLP, defaults={"activation": "relu"}, about="MLP 784-250-200-10 with ReLU"),
    "design": ModelSpec(builder=_designed, defaults={"activation": "relu", "spec": LENET5},
                        about="your own design (lenet/designs.py)"),
}


def resolve_options(name: str, **options: Any) -> dict[str, Any]:
    """The full option dict for model `name`: its defaults, overridden by the non-None `options`.

    Raises ValueError with the allowed choices for an unknown model, option or value.
    """
    if name not in MODELS:
        raise ValueError(Message("model.unknown", name=name, choices=", ".join(MODELS)))
    spec = MODELS[name]
    resolved = dict(spec.defaults)
    for key, value in options.items():
        if value is None:
            continue
        if key not in spec.options and key not in spec.defaults:
            raise ValueError(Message("model.no_option", name=name, option=key))
        if key in spec.options and value not in spec.options[key]:
            raise ValueError(Message("model.bad_option", option=key, choices=", ".join(spec.options[key]), value=value))
        resolved[key] = value
    return resolved


def build_model(name: str, **options: Any) -> nn.Module:
    """Build a fresh model by registry name.

    Args:
        name: lenet5 | lenet5-classic | mlp | design.
        options: activation=relu|tanh|sigmoid, and pool=max|avg for the LeNets, spec=TEXT for a design
            (lenet/designs.py); None keeps the default.
    Returns:
        The model, in training mode, with randomly initialised weights.
    """
    resolved = resolve_options(name, **options)
    return MODELS[name].builder(**resolved)


def learning_parameters(model: nn.Module, layers: str = "all") -> list[nn.Parameter]:
    """The parameters that `layers` lets learn: all of them, or those of `model.classifier` only
    (its convolutional `features` stay as they are). Raises ValueError for a model without a
    `features` block, such as the MLP, whose layers are all its classifier."""
    if layers == "all":
        return list(model.parameters())
    if layers != "classifier":
        raise ValueError(Message("train.bad_layers", choices=" or ".join(LAYERS), value=layers))
    if not isinstance(getattr(model, "features", None), nn.Module):
        raise ValueError(Message("train.no_features", model=type(model).__name__))
    return list(model.classifier.parameters())
