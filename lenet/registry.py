"""Every model by name, one registry: lenet5, lenet5-classic and the MLP (models.py), and your own
design (designs.py). The command line, TrainConfig, checkpoints and the app build every model here.

    model = build_model("lenet5", activation="tanh")
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from .designs import LENET5, Designed
from .messages import Message
from .models import ACTIVATIONS, MLP, POOLS, LeNet5

__all__ = ["MODELS", "ModelSpec", "build_model", "resolve_options"]


@dataclass(frozen=True)
class ModelSpec:
    builder: Callable[..., nn.Module]  # the nn.Module it builds, called with the resolved options
    defaults: dict[str, Any]  # its options where a caller gives none
    about: str  # one line, for `lenet summary`
    options: dict[str, tuple] = field(default_factory=lambda: {"activation": tuple(ACTIVATIONS)})  # allowed values


MODELS: dict[str, ModelSpec] = {
    "lenet5": ModelSpec(builder=LeNet5, defaults={"activation": "relu", "pool": "max"},
                        about="LeNet-5, modern: ReLU and max-pooling",
                        options={"activation": tuple(ACTIVATIONS), "pool": tuple(POOLS)}),
    "lenet5-classic": ModelSpec(builder=LeNet5, defaults={"activation": "tanh", "pool": "avg", "c5_conv": True},
                                about="LeNet-5 as in LeCun 1998: tanh, average pooling, C5 as a convolution",
                                options={"activation": tuple(ACTIVATIONS), "pool": tuple(POOLS)}),
    "mlp": ModelSpec(builder=MLP, defaults={"activation": "relu"}, about="MLP 784-250-200-10 with ReLU"),
    "design": ModelSpec(builder=Designed, defaults={"activation": "relu", "spec": LENET5},
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
