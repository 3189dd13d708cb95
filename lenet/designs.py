"""Your own LeNet: a network written as a short line of text, checked before it is built.

    c6k5p2-m2-c16k5-m2-f120-f84      today's lenet5: 61,706 parameters

Layers are separated by "-":
    c6k5p2   a convolution: 6 output channels, a 5×5 window, padding 2 (p and s, the stride, are optional)
    m2, a2   2×2 max or average pooling (stride 2: the windows don't overlap)
    f120     a fully connected layer of 120
The last, 10-way layer is implicit. The activation (after every convolution and every fully
connected layer) is a separate setting. The first convolution pads with blank paper, as LeNet-5
does, so LeNet-5's own weights load into its design.

`walk()` works out every layer's output shape, parameters and multiply-adds from the text alone,
with (n + 2p − f)/s + 1, before anything is built. An impossible design gets a Message that names
the layer and the numbers, never an exception. `Designed` builds the nn.Module from the walk.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from .data import BACKGROUND
from .messages import Message
from .models import ACTIVATIONS, POOLS
from .shapes import LayerRow, output_size

__all__ = ["LENET5", "LIMITS", "PRESETS", "Conv", "Dense", "DesignError", "Designed", "Pool", "Walk", "check",
           "over_budget", "parse", "text_of", "walk"]

LENET5 = "c6k5p2-m2-c16k5-m2-f120-f84"  # models.LeNet5 written as a design: the same layers, the same names
PRESETS = {  # name -> (design, activation): ready to edit on the Build page
    "lenet5": (LENET5, "relu"),                                  # LeNet-5, modern
    "lenet5-1998": ("c6k5p2-a2-c16k5-a2-c120k5-f84", "tanh"),    # LeCun 1998: average pooling, C5 a convolution
    "mlp": ("f250-f200", "relu"),                                # no convolutions
    "d2l": ("c6k5p2-a2-c16k5-a2-f120-f84", "sigmoid"),           # d2l's LeNet: sigmoid and average pooling
    "kernel3": ("c6k3p1-m2-c16k3-m2-f120-f84", "relu"),          # d2l exercise: a smaller window
    "wider": ("c16k5p2-m2-c32k5-m2-f120-f84", "relu"),           # d2l exercise: more channels
    "one-conv": ("c6k5p2-m2-f120-f84", "relu"),                  # d2l exercise: a convolution fewer
    "three-convs": ("c8k3p1-m2-c16k3p1-m2-c32k3p1-m2-f64", "relu"),  # d2l exercise: a convolution more
}
IMAGE = (1, 28, 28)  # one MNIST digit: channels, height, width
LIMITS = {  # what a design may ask for (the Build page's menus offer the same)
    "convs": 3, "pools": 3, "fcs": 3,
    "channels": (1, 128), "kernel": (1, 9), "padding": (0, 4), "stride": (1, 3), "pool": (2, 4), "units": (8, 512),
}
_NUMBER = "([0-9]+)"  # ASCII digits only: "²".isdigit() is true, and int("²") fails
DIGITS = 4  # the most digits a design's number may have, checked before int() reads it: Python refuses a
#             4,300-digit int() with a ValueError, and every limit above has at most 3
_TOKENS = {
    "conv": re.compile(f"c{_NUMBER}k{_NUMBER}(?:p{_NUMBER})?(?:s{_NUMBER})?"),
    "pool": re.compile(f"([ma]){_NUMBER}"),
    "dense": re.compile(f"f{_NUMBER}"),
}


class DesignError(ValueError):
    """A design that can't be read or built; its message is a keyed Message."""


@dataclass(frozen=True)
class Conv:
    channels: int
    kernel: int
    padding: int = 0
    stride: int = 1

    def __str__(self) -> str:
        return (f"c{self.channels}k{self.kernel}" + (f"p{self.padding}" if self.padding else "")
                + (f"s{self.stride}" if self.stride != 1 else ""))


@dataclass(frozen=True)
class Pool:
    kind: str  # max | avg
    size: int

    def __str__(self) -> str:
        return ("m" if self.kind == "max" else "a") + str(self.size)


@dataclass(frozen=True)
class Dense:
    units: int

    def __str__(self) -> str:
        return f"f{self.units}"


Layer = Conv | Pool | Dense


def parse(text: str) -> tuple[Layer, ...]:
    """The layers of a design's text; DesignError for a part that isn't a layer."""
    tokens = [t for t in text.strip().lower().replace(" ", "").split("-") if t] if text else []
    if not tokens:
        raise DesignError(Message("design.empty", example=LENET5))
    return tuple(_layer(token) for token in tokens)


def _layer(token: str) -> Layer:
    if any(len(number) > DIGITS for number in re.findall("[0-9]+", token)):
        raise DesignError(Message("design.long_number", token=token[:20] + ("…" if len(token) > 20 else ""),
                                  digits=DIGITS))
    if m := _TOKENS["conv"].fullmatch(token):
        channels, kernel, padding, stride = m.groups()
        return Conv(channels=int(channels), kernel=int(kernel), padding=int(padding or 0), stride=int(stride or 1))
    if m := _TOKENS["pool"].fullmatch(token):
        return Pool(kind="max" if m[1] == "m" else "avg", size=int(m[2]))
    if m := _TOKENS["dense"].fullmatch(token):
        return Dense(int(m[1]))
    raise DesignError(Message("design.syntax", token=token[:20]))


def check(text: str, activation: str = "relu", *, max_params: int | None = None,
          max_multiply_adds: int | None = None) -> Walk:
    """The walk of a design's text, whatever the text: one that isn't a design gets a Walk with
    no rows and the reason. Never raises (for a page that shows every keystroke's design). A
    design over `max_params` or `max_multiply_adds` (a class budget's) keeps all its rows, and its
    problem says which limit it breaks."""
    try:
        layers = parse(text)
    except DesignError as err:
        return Walk(problem=err.args[0])
    found = walk(layers, activation)
    if found.problem is None:
        found.problem = over_budget(found, max_params, max_multiply_adds)
    return found


def over_budget(found: Walk, max_params: int | None, max_multiply_adds: int | None) -> Message | None:
    """Which limit a whole design breaks: its parameters, then its multiply-adds (None: no limit)."""
    if max_params is not None and found.params > max_params:
        return Message("design.too_big", value=found.params, limit=max_params)
    if max_multiply_adds is not None and found.multiply_adds > max_multiply_adds:
        return Message("design.too_much_work", value=found.multiply_adds, limit=max_multiply_adds)
    return None


def text_of(layers: tuple[Layer, ...]) -> str:
    """The one way to write these layers: c6k5p2-m2-c16k5-m2-f120-f84."""
    return "-".join(map(str, layers))


@dataclass
class Walk:
    """A design's layer table, worked out from its text: what `layer_table()` will read from the
    built model. `problem` says why there is no model; the rows then stop before that layer."""
    rows: list[LayerRow] = field(default_factory=list)
    problem: Message | None = None

    @property
    def whole(self) -> bool:
        """Every layer was worked out, down to the 10-way output (a design over a budget is whole)."""
        return bool(self.rows) and self.rows[-1].out_shape == (10,)

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def multiply_adds(self) -> int:
        return sum(r.multiply_adds for r in self.rows)


def walk(layers: tuple[Layer, ...], activation: str = "relu") -> Walk:
    """Each layer's shapes, parameters and multiply-adds for one 28×28 digit, in the order the
    model runs them, with the same names (features.conv1, classifier.fc1 …)."""
    result = Walk(problem=_counted(layers) or _ordered(layers))
    if result.problem:
        return result
    act, shape, seen = ACTIVATIONS[activation].__name__, IMAGE, {"conv": 0, "pool": 0, "fc": 0, "act": 0}
    for layer in layers:
        rows, problem = _stage(layer, shape, seen, act)
        result.rows += rows
        if problem:
            result.problem = problem
            return result
        shape = rows[-1].out_shape
    if len(shape) == 3:
        result.rows.append(_flatten(shape))
    result.rows.append(_linear(f"fc{seen['fc'] + 1}", result.rows[-1].out_shape[0], 10))
    return result


def _counted(layers: tuple[Layer, ...]) -> Message | None:
    """Too many layers of a kind, or a number out of its range."""
    counts = {kind: sum(isinstance(x, t) for x in layers) for kind, t in (("convs", Conv), ("pools", Pool),
                                                                          ("fcs", Dense))}
    if any(counts[k] > LIMITS[k] for k in counts):
        return Message("design.too_many", **{k: LIMITS[k] for k in counts}, **{"n_" + k: v for k, v in counts.items()})
    numbered = {Conv: 0, Pool: 0, Dense: 0}
    for layer in layers:
        numbered[type(layer)] += 1
        name = {Conv: "conv", Pool: "pool", Dense: "fc"}[type(layer)] + str(numbered[type(layer)])
        for what, value in _numbers(layer):
            low, high = LIMITS[what]
            if not low <= value <= high:
                return Message("design." + what, layer=name, value=value, low=low, high=high)
    return None


def _numbers(layer: Layer) -> list[tuple[str, int]]:
    if isinstance(layer, Conv):
        return [("channels", layer.channels), ("kernel", layer.kernel), ("padding", layer.padding),
                ("stride", layer.stride)]
    return [("pool", layer.size)] if isinstance(layer, Pool) else [("units", layer.units)]


def _ordered(layers: tuple[Layer, ...]) -> Message | None:
    """Convolutions and pooling first, then the fully connected layers."""
    first_fc = next((i for i, x in enumerate(layers) if isinstance(x, Dense)), len(layers))
    for j in range(first_fc, len(layers)):
        if not isinstance(layers[j], Dense):
            number = sum(isinstance(x, type(layers[j])) for x in layers[:j + 1])
            return Message("design.order", layer=("conv" if isinstance(layers[j], Conv) else "pool") + str(number),
                           dense="fc1")
    return None


def _stage(layer: Layer, shape: tuple[int, ...], seen: dict[str, int], act: str) -> tuple[list[LayerRow],
                                                                                          Message | None]:
    """The rows one layer of the design adds (with its activation), or the problem it meets."""
    if isinstance(layer, Dense):
        seen["fc"] += 1
        rows = [_flatten(shape)] if len(shape) == 3 else []
        row = _linear(f"fc{seen['fc']}", math.prod(shape), layer.units)
        return rows + [row, _activation(row, seen, act, "classifier")], None
    channels, side = shape[0], shape[-1]
    if isinstance(layer, Pool):
        seen["pool"] += 1
        name = f"pool{seen['pool']}"
        if layer.size > side:
            return [], Message("design.window", layer=name, f=layer.size, n=side)
        out = int(output_size(side, layer.size, 0, layer.size))
        kind = POOLS[layer.kind].__name__
        return [LayerRow(name=f"features.{name}", kind=kind, in_shape=shape, out_shape=(channels, out, out), params=0,
                         kernel=layer.size, stride=layer.size, padding=0)], None
    seen["conv"] += 1
    return _conv(layer, shape, seen, act)


def _conv(layer: Conv, shape: tuple[int, ...], seen: dict[str, int], act: str) -> tuple[list[LayerRow],
                                                                                        Message | None]:
    rows, name, side, padding = [], f"conv{seen['conv']}", shape[-1], layer.padding
    if layer.kernel > side + 2 * padding:
        key = "design.window_padded" if padding else "design.window"
        return [], Message(key, layer=name, f=layer.kernel, n=side, m=side + 2 * padding)
    if seen["conv"] == 1 and padding:  # the image is padded with blank paper, not with zeros
        padded = (shape[0], side + 2 * padding, side + 2 * padding)
        rows.append(LayerRow(name="features.pad", kind="ConstantPad2d", in_shape=shape, out_shape=padded, params=0))
        shape, side, padding = padded, side + 2 * padding, 0
    out = int(output_size(side, layer.kernel, padding, layer.stride))
    per_output = shape[0] * layer.kernel ** 2
    row = LayerRow(name=f"features.{name}", kind="Conv2d", in_shape=shape, out_shape=(layer.channels, out, out),
                   params=layer.channels * (per_output + 1), kernel=layer.kernel, stride=layer.stride, padding=padding,
                   multiply_adds=layer.channels * out * out * per_output)
    return rows + [row, _activation(row, seen, act, "features")], None


def _flatten(shape: tuple[int, ...]) -> LayerRow:
    return LayerRow(name="flatten", kind="Flatten", in_shape=shape, out_shape=(math.prod(shape),), params=0)


def _linear(name: str, n_in: int, n_out: int) -> LayerRow:
    return LayerRow(name=f"classifier.{name}", kind="Linear", in_shape=(n_in,), out_shape=(n_out,),
                    params=n_in * n_out + n_out, multiply_adds=n_in * n_out)


def _activation(row: LayerRow, seen: dict[str, int], act: str, block: str) -> LayerRow:
    seen["act"] += 1
    return LayerRow(name=f"{block}.act{seen['act']}", kind=act, in_shape=row.out_shape, out_shape=row.out_shape,
                    params=0)


class Designed(nn.Module):
    """The network a design describes, named as LeNet5 names its layers: `features` (the
    convolutions and pooling, if any), `flatten`, then `classifier` (the fully connected layers
    and the 10-way output). Its shapes are the walk's, which tests/lenet/test_designs.py checks
    against PyTorch for hundreds of designs.

    Args:
        spec: the design's text, e.g. "c6k5p2-m2-c16k5-m2-f120-f84".
        activation: relu | tanh | sigmoid.
    Raises DesignError, with the walk's reason, for an impossible design.
    """

    def __init__(self, spec: str = LENET5, activation: str = "relu") -> None:
        super().__init__()
        layers = parse(spec)
        self.spec = text_of(layers)
        rows = walk(layers, activation)
        if rows.problem:
            raise DesignError(rows.problem)
        blocks = {"features": OrderedDict(), "classifier": OrderedDict()}
        for row in rows.rows:
            if row.name != "flatten":
                block, name = row.name.split(".")
                blocks[block][name] = _module(row, activation)
        if blocks["features"]:
            self.features = nn.Sequential(blocks["features"])
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(blocks["classifier"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "features"):
            x = self.features(x)  # (B, 1, 28, 28) -> (B, C, H, W), as the walk says
        return self.classifier(self.flatten(x))  # (B, C·H·W) -> (B, 10)


def _module(row: LayerRow, activation: str) -> nn.Module:
    """The PyTorch layer for one row of the walk."""
    if row.kind == "ConstantPad2d":
        return nn.ConstantPad2d((row.out_shape[-1] - row.in_shape[-1]) // 2, BACKGROUND)
    if row.kind == "Conv2d":
        return nn.Conv2d(row.in_shape[0], row.out_shape[0], row.kernel, row.stride, row.padding)
    if row.kind == "Linear":
        return nn.Linear(row.in_shape[0], row.out_shape[0])
    pool = next((p for p in POOLS.values() if p.__name__ == row.kind), None)
    return pool(row.kernel) if pool else ACTIVATIONS[activation]()
