"""Look inside a model: every layer's output, the layer table, feature maps, filters.

Nothing here changes the model it is given: no hooks, no mode switch, no moved weights. One
loaded model is shared by every browser session at once, so introspection
runs the model's layers one by one on its own input instead of hooking the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..shapes import LayerRow, output_size, size_formula

__all__ = ["MAP_LAYERS", "Step", "describe", "feature_maps", "filters", "flatten_size", "has_feature_maps",
           "layer_table", "lenet_walk", "sides", "strongest", "trace"]

MAP_LAYERS = ("features.conv1", "features.pool1", "features.conv2", "features.pool2")


@dataclass
class Step:
    name: str  # dotted module name, e.g. "features.conv1"
    layer: nn.Module
    input: torch.Tensor  # what the layer received, batch first
    output: torch.Tensor  # what it gave


def describe(rows: list[LayerRow]) -> dict[str, str]:
    """What the Explain page says about a model, read from its own layers: the activation, the
    pooling, and whether C5 is a convolution (LeCun 1998) or a linear layer."""
    kinds = [r.kind for r in rows]
    activation = next((k for k in kinds if k in ("ReLU", "Tanh", "Sigmoid")), "")
    pool = "max" if "MaxPool2d" in kinds else "average" if "AvgPool2d" in kinds else ""
    c5 = any(r.name.endswith("conv3") for r in rows)
    return {"activation": {"ReLU": "ReLU", "Tanh": "tanh", "Sigmoid": "sigmoid"}.get(activation, activation),
            "pool": pool, "c5": "conv" if c5 else "linear" if pool else ""}


def sides(rows: list[LayerRow]) -> list[int]:
    """The side of the maps after every layer that changes it, read from the model's own layer
    table: [32, 28, 14, 10, 5] for lenet5 (pad, conv1, pool1, conv2, pool2), then 1 for a C5
    convolution; [] for a model without maps (the MLP)."""
    found, side = [], rows[0].in_shape[-1] if rows else None
    for row in rows:
        if len(row.out_shape) == 3 and row.out_shape[-1] != side:
            side = row.out_shape[-1]
            found.append(side)
    return found


def flatten_size(rows: list[LayerRow]) -> int | None:
    """How many numbers the convolutions hand on: the size of the last pooling layer's output
    (16 maps of 5×5 = 400 for both LeNets), read from the model's own table; None without pooling."""
    pools = [row for row in rows if row.kind in ("MaxPool2d", "AvgPool2d")]
    return math.prod(pools[-1].out_shape) if pools else None


def lenet_walk(n: int = 28, f: int = 5, pad: int = 2) -> tuple[list[tuple[str, str, int]], int]:
    """LeNet-5's sides for an n×n image and f×f kernels: [(stage, formula, side)] and the
    flatten size 16·k·k that fc1 must receive (400 for MNIST's 28 and 5×5 kernels).
    PyTorch rounds non-integer sizes down; a side below 1 means the maps vanished."""
    stages, side = [("pad", f"{n} + 2·{pad} = {n + 2 * pad}", n + 2 * pad)], n + 2 * pad
    for name, kernel, stride in (("conv1", f, 1), ("pool1", 2, 2), ("conv2", f, 1), ("pool2", 2, 2)):
        formula = size_formula(side, kernel, 0, stride)
        side = int(output_size(side, kernel, 0, stride)) if side >= kernel else 0
        stages.append((name, formula, side))
        if side < 1:
            return stages, 0
    return stages, 16 * side * side


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if not list(m.children())]


@torch.no_grad()
def trace(model: nn.Module, x: torch.Tensor, until: str | None = None) -> list[Step]:
    """Run the model's layers one at a time on x (B, 1, 28, 28) and keep every output; with
    `until` (a dotted name), stop after that layer: the rest isn't needed, so it isn't run.

    Every model here is a chain whose layers run in the order they are declared, so this is
    the model's own forward pass, step by step (tests/inside/test_introspect.py checks that the last
    output equals model(x) exactly for every registered model).
    """
    steps = []
    x = x.to(next(model.parameters()).device)
    for name, layer in _leaves(model):
        y = layer(x)
        steps.append(Step(name=name, layer=layer, input=x, output=y))
        if name == until:
            break
        x = y
    return steps


def _first(value) -> int:
    return value[0] if isinstance(value, tuple) else value


def _row(step: Step) -> LayerRow:
    layer = step.layer
    kernel = stride = padding = None
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel, stride, padding = _first(layer.kernel_size), _first(layer.stride), _first(layer.padding)
    return LayerRow(name=step.name, kind=type(layer).__name__, in_shape=tuple(step.input.shape[1:]),
                    out_shape=tuple(step.output.shape[1:]),
                    params=sum(p.numel() for p in layer.parameters(recurse=False)), kernel=kernel, stride=stride,
                    padding=padding, multiply_adds=_multiply_adds(layer, step.output))


def _multiply_adds(layer: nn.Module, out: torch.Tensor) -> int:
    """One image's multiply-adds in a conv or linear layer, counted from its weight and output."""
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        per_output = layer.weight[0].numel()  # in_channels·f·f, or in_features
        return per_output * out[0].numel()
    return 0


def layer_table(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 28, 28)) -> list[LayerRow]:
    """One row per layer, in execution order, from a real pass of a blank input."""
    return [_row(step) for step in trace(model, torch.zeros(input_shape))]


def has_feature_maps(model: nn.Module) -> bool:
    names = {name for name, _ in model.named_modules()}
    return all(name in names for name in MAP_LAYERS)


def feature_maps(model: nn.Module, x: torch.Tensor, layers: tuple[str, ...] = MAP_LAYERS) -> dict[str, torch.Tensor]:
    """conv1 (6, 28, 28), pool1 (6, 14, 14), conv2 (16, 10, 10), pool2 (16, 5, 5) for one image x (1, 1, 28, 28),
    or only the `layers` asked for (dotted names). An MLP has none: KeyError."""
    if not has_feature_maps(model):
        raise KeyError(f"{type(model).__name__} has no convolution layers, so no feature maps")
    outputs = {step.name: step.output for step in trace(model, x, until=layers[-1])}
    return {name.split(".")[-1]: outputs[name][0].cpu() for name in layers}


def filters(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the learned kernels: conv1 (6, 1, 5, 5) and conv2 (16, 6, 5, 5)."""
    modules = dict(model.named_modules())
    return {name.split(".")[-1]: modules[name].weight.detach().cpu().clone()
            for name in ("features.conv1", "features.conv2")}


@torch.no_grad()
def strongest(model: nn.Module, x: torch.Tensor, layer: str = "conv2", k: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """The images that excite each channel of `layer` most: for x (N, 1, 28, 28), the indices
    (C, k) of the k images whose map peaks highest, and those peaks (C, k), strongest first."""
    if not has_feature_maps(model):
        raise KeyError(f"{type(model).__name__} has no convolution layers, so no filters to excite")
    name = next(n for n in MAP_LAYERS if n.endswith("." + layer))
    peaks = []
    for chunk in x.split(1000):  # conv1's maps of 1,000 digits are 19 MB
        out = trace(model, chunk, until=name)[-1].output  # (n, C, H, W)
        peaks.append(out.amax(dim=(2, 3)).cpu())  # (n, C)
    values, indices = torch.cat(peaks).topk(k, dim=0)  # (k, C)
    return indices.T, values.T
