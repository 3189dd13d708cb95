"""LeNet-5 (modern and LeCun-1998 style) and an MLP, with the activations and poolings they, and
every design (designs.py), are made of, and which of their layers learn.

These are the models a student reads. registry.py builds any of them by name; the faster kernels
that training uses live in fast.py.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .data import BACKGROUND
from .messages import Message

__all__ = ["ACTIVATIONS", "LAYERS", "MLP", "POOLS", "LeNet5", "learning_parameters"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
LAYERS = ("all", "classifier")  # which layers learn: every one, or the classifier only (fine-tuning)


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
