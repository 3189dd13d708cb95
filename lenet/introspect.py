"""Look inside a model: the layer table (shapes by forward hooks), feature maps, filters."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

__all__ = ["LayerRow", "output_size", "size_formula", "lenet_walk", "layer_table", "capture", "has_feature_maps",
           "feature_maps", "filters", "MAP_LAYERS"]

MAP_LAYERS = ("features.conv1", "features.pool1", "features.conv2", "features.pool2")


@dataclass
class LayerRow:
    name: str  # dotted module name, e.g. "features.conv1"
    kind: str  # the module's class, e.g. "Conv2d"
    in_shape: tuple[int, ...]  # one sample's input shape, batch left out, e.g. (1, 32, 32)
    out_shape: tuple[int, ...]
    params: int  # trainable parameters of this layer
    kernel: int | None = None  # f, for conv and pool layers
    stride: int | None = None  # s
    padding: int | None = None  # p

    @property
    def formula(self) -> str:
        """The output-size formula with this layer's numbers, e.g. "(32 + 2·0 − 5)/1 + 1 = 28"."""
        if self.kernel is None or len(self.in_shape) != 3:
            return ""
        return size_formula(self.in_shape[-1], self.kernel, self.padding or 0, self.stride or 1)


def output_size(n: int, f: int, p: int = 0, s: int = 1) -> float:
    """(n + 2p − f)/s + 1: the side of a conv or pool output. Non-integer means the window
    doesn't tile the input; PyTorch then rounds down, dropping the last rows and columns."""
    return (n + 2 * p - f) / s + 1


def size_formula(n: int, f: int, p: int = 0, s: int = 1) -> str:
    size = output_size(n, f, p, s)
    shown = f"{size:g}" if size == int(size) else f"{size:.2f} → {int(size)} (rounded down)"
    return f"({n} + 2·{p} − {f})/{s} + 1 = {shown}"


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


def _first(value) -> int:
    return value[0] if isinstance(value, tuple) else value


@torch.no_grad()
def layer_table(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 28, 28)) -> list[LayerRow]:
    """One row per leaf layer, in execution order, from a real forward pass with hooks."""
    rows: list[LayerRow] = []

    def record(name: str, module: nn.Module):
        def hook(_module, inputs, output):
            kernel = stride = padding = None
            if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                kernel, stride, padding = (_first(module.kernel_size), _first(module.stride), _first(module.padding))
            rows.append(LayerRow(name, type(module).__name__, tuple(inputs[0].shape[1:]), tuple(output.shape[1:]),
                                 sum(p.numel() for p in module.parameters(recurse=False)), kernel, stride, padding))
        return hook

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    handles = [m.register_forward_hook(record(n, m)) for n, m in model.named_modules() if not list(m.children())]
    try:
        model(torch.zeros(input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows


@contextmanager
def capture(model: nn.Module, names: tuple[str, ...] | list[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Collect the outputs of the named layers during a forward pass; hooks are always removed.

        with capture(model, ["features.conv1"]) as maps:
            model(x)
        maps["features.conv1"]  # (B, 6, 28, 28)
    """
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise KeyError(f"model has no layer {', '.join(missing)}")
    maps: dict[str, torch.Tensor] = {}
    handles = [modules[n].register_forward_hook(lambda _m, _i, out, n=n: maps.__setitem__(n, out.detach()))
               for n in names]
    try:
        yield maps
    finally:
        for h in handles:
            h.remove()


def has_feature_maps(model: nn.Module) -> bool:
    return all(name in dict(model.named_modules()) for name in MAP_LAYERS)


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """conv1 (6, 28, 28), pool1 (6, 14, 14), conv2 (16, 10, 10), pool2 (16, 5, 5) for one image x (1, 1, 28, 28).
    An MLP has none: KeyError."""
    model.eval()
    with capture(model, MAP_LAYERS) as maps:
        model(x.to(next(model.parameters()).device))
    return {name.split(".")[-1]: out[0].cpu() for name, out in maps.items()}


def filters(model: nn.Module) -> dict[str, torch.Tensor]:
    """The learned kernels: conv1 (6, 1, 5, 5) and conv2 (16, 6, 5, 5)."""
    modules = dict(model.named_modules())
    return {name.split(".")[-1]: modules[name].weight.detach().cpu() for name in ("features.conv1", "features.conv2")}
