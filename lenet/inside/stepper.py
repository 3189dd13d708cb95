"""One output number of LeNet, worked out by hand: the convolution stepper and the softmax.

The Explain page lets a student pick a layer, a channel and a position, and shows the numbers
that make that one output: the window of the input it reads, the kernel, the products, their
sum, the bias. Everything here is recomputed from the layer's weights with plain arithmetic
(float64), not read off the model's output, so the page shows how the number arises; the tests
check that it equals the model's own feature map.

Like introspect.py, nothing here changes the model it is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .introspect import MAP_LAYERS, trace

__all__ = ["STEP_LAYERS", "Softmax", "Window", "receptive_field", "softmax_steps", "step"]

STEP_LAYERS = tuple(name.split(".")[-1] for name in MAP_LAYERS)  # conv1, pool1, conv2, pool2
# What each layer reads (the previous map after its activation), and what follows it.
_READS = {"conv1": "pad", "pool1": "conv1", "conv2": "act1", "pool2": "conv2"}
_THEN = {"pool1": "act1", "pool2": "act2"}


@dataclass(frozen=True)
class Window:
    """How one output number of a conv or pool layer is made.

    For a conv layer: value = sum(patch · kernel) + bias. For a pool layer: value = the max or
    the mean of the 2×2 patch, and `activated` is that value after the activation, which in
    these models follows the pooling.
    """
    layer: str  # conv1 | pool1 | conv2 | pool2
    channel: int
    row: int
    col: int
    inputs: torch.Tensor  # (C_in, H, W): every map the layer reads (conv1 reads the padded 32×32 image)
    top: int  # the window's top-left corner in `inputs`
    left: int
    patch: torch.Tensor  # (C_in, f, f) for a conv; (1, 2, 2) for a pool: the numbers under the window
    kernel: torch.Tensor | None  # (C_in, f, f): the weights, for a conv
    bias: float | None  # for a conv
    op: str  # "conv", "max" or "avg"
    value: float  # the output number, computed here
    activation: str | None  # the activation that follows a pool layer ("ReLU", "Tanh", ...)
    activated: float | None  # value after it
    model_value: float  # the same number read from the model's own feature map, for comparison

    @property
    def products(self) -> torch.Tensor | None:
        """(C_in, f, f): patch × kernel, element by element."""
        return None if self.kernel is None else self.patch * self.kernel

    @property
    def per_map(self) -> torch.Tensor | None:
        """(C_in,): each input map's share of the sum; conv2 adds 6 of them."""
        products = self.products
        return None if products is None else products.sum(dim=(1, 2))


def receptive_field(layer: str, row: int, col: int) -> tuple[int, int, int]:
    """(top, left, size) of the square of the padded 32×32 input that decides output (row, col)
    of `layer`: conv1 sees 5×5, pool1 6×6, conv2 14×14, pool2 16×16. Going back one layer, a
    window of f at stride s that covers `size` outputs spans (size − 1)·s + f inputs."""
    order = STEP_LAYERS[:STEP_LAYERS.index(layer) + 1]
    top, left, size = row, col, 1
    for name in reversed(order):
        f, s = (5, 1) if name.startswith("conv") else (2, 2)
        top, left, size = top * s, left * s, (size - 1) * s + f
    return top, left, size


@torch.no_grad()
def step(model: nn.Module, x: torch.Tensor, layer: str, channel: int, row: int, col: int) -> Window:
    """Work out output (channel, row, col) of `layer` for one image x (1, 1, 28, 28).

    Raises KeyError for a model without that layer (the MLP), IndexError for a position
    outside the layer's output.
    """
    if layer not in STEP_LAYERS:
        raise KeyError(f"no stepper for {layer!r}; choose one of {', '.join(STEP_LAYERS)}")
    features = [s for s in trace(model, x, until="features.act2") if s.name.startswith("features.")]
    steps = {s.name.split(".")[-1]: s for s in features}
    if layer not in steps:
        raise KeyError(f"{type(model).__name__} has no {layer}: only LeNet has convolutions to step through")
    out = steps[layer].output[0]  # (C_out, H, W)
    if not (0 <= channel < out.shape[0] and 0 <= row < out.shape[1] and 0 <= col < out.shape[2]):
        raise IndexError(f"{layer} has {out.shape[0]} channels of {out.shape[1]}×{out.shape[2]}; "
                         f"got channel {channel}, position ({row}, {col})")
    inputs = steps[_READS[layer]].output[0].double().cpu()  # (C_in, H, W)
    module = steps[layer].layer
    common = dict(layer=layer, channel=channel, row=row, col=col, inputs=inputs,
                  model_value=float(out[channel, row, col]))
    if isinstance(module, nn.Conv2d):
        f = module.kernel_size[0]
        patch = inputs[:, row:row + f, col:col + f]  # (C_in, f, f), stride 1, no padding
        kernel = module.weight[channel].detach().double().cpu()  # (C_in, f, f)
        bias = float(module.bias[channel])
        value = float((patch * kernel).sum()) + bias
        return Window(**common, top=row, left=col, patch=patch, kernel=kernel, bias=bias, op="conv", value=value,
                      activation=None, activated=None)
    patch = inputs[channel:channel + 1, 2 * row:2 * row + 2, 2 * col:2 * col + 2]  # (1, 2, 2)
    op = "max" if isinstance(module, nn.MaxPool2d) else "avg"
    value = float(patch.max() if op == "max" else patch.mean())
    act = steps[_THEN[layer]].layer
    activated = float(act(torch.tensor(value, dtype=torch.float64)))
    return Window(**common, top=2 * row, left=2 * col, patch=patch, kernel=None, bias=None, op=op, value=value,
                  activation=type(act).__name__, activated=activated)


@dataclass(frozen=True)
class Softmax:
    """The classifier's last step for one image, number by number (float64)."""
    logits: list[float]  # the ten outputs of the last layer
    exps: list[float]  # e^(logit − max logit): the same ratios as e^logit, without overflow
    total: float  # their sum
    probs: list[float]  # exps / total
    label: int  # the true label chosen for the loss
    loss: float  # cross-entropy: −log probs[label]


@torch.no_grad()
def softmax_steps(model: nn.Module, x: torch.Tensor, label: int) -> Softmax:
    """logits → exp → normalise → cross-entropy for one image x (1, 1, 28, 28) and a true label."""
    if not 0 <= label < 10:
        raise ValueError(f"a label is a digit 0–9, got {label}")
    logits = trace(model, x)[-1].output[0].double().cpu()  # (10,)
    shifted = logits - logits.max()  # subtracting the max changes no probability
    exps = shifted.exp()
    total = float(exps.sum())
    probs = exps / total
    loss = math.log(total) - float(shifted[label])  # = −log probs[label], and finite when that rounds to 0
    return Softmax(logits=logits.tolist(), exps=exps.tolist(), total=total, probs=probs.tolist(), label=label,
                   loss=loss)
