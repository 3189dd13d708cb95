"""LeNet-5 (modern and LeCun-1998 style) and an MLP, built by name from one registry."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .data import BACKGROUND

__all__ = ["ACTIVATIONS", "POOLS", "MODELS", "LeNet5", "MLP", "build_model", "resolve_options", "conv_pool", "predict"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


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
        f, fast = self.features, self._fast()
        x = f.pad(x)  # (B, 1, 32, 32)
        x = conv_pool(x, f.conv1, f.pool1) if fast else f.pool1(f.conv1(x))  # (B, 6, 28, 28) -> (B, 6, 14, 14)
        x = f.act1(x)
        x = f.conv2(x)  # (B, 16, 10, 10)
        x = max_pool_2x2(x) if fast and isinstance(f.pool2, nn.MaxPool2d) else f.pool2(x)  # (B, 16, 5, 5)
        x = f.act2(x)
        if self.c5_conv:
            x = f.act3(f.conv3(x))  # (B, 120, 1, 1)
        return self.classifier(self.flatten(x))  # (B, 10)

    def _fast(self) -> bool:
        """Use the fused kernels below (same maths, ~2x faster on CPU) unless something needs
        the plain layers: a forward hook watching conv1 or a pool, or tracing for export."""
        f = self.features
        watched = any(m._forward_hooks or m._forward_pre_hooks for m in (f.conv1, f.pool1, f.pool2))
        return not (watched or torch.jit.is_tracing() or torch.jit.is_scripting())


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


@dataclass(frozen=True)
class ModelSpec:
    builder: type[nn.Module]
    defaults: dict[str, Any]
    about: str
    options: dict[str, tuple] = field(default_factory=lambda: {"activation": tuple(ACTIVATIONS)})


MODELS: dict[str, ModelSpec] = {
    "lenet5": ModelSpec(LeNet5, {"activation": "relu", "pool": "max"}, "LeNet-5, modern: ReLU and max-pooling",
                        {"activation": tuple(ACTIVATIONS), "pool": tuple(POOLS)}),
    "lenet5-classic": ModelSpec(LeNet5, {"activation": "tanh", "pool": "avg", "c5_conv": True},
                                "LeNet-5 as in LeCun 1998: tanh, average pooling, C5 as a convolution",
                                {"activation": tuple(ACTIVATIONS), "pool": tuple(POOLS)}),
    "mlp": ModelSpec(MLP, {"activation": "relu"}, "MLP 784-250-200-10 with ReLU"),
}


def resolve_options(name: str, **options: Any) -> dict[str, Any]:
    """The full option dict for model `name`: its defaults, overridden by the non-None `options`.

    Raises ValueError with the allowed choices for an unknown model, option or value.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    spec = MODELS[name]
    resolved = dict(spec.defaults)
    for key, value in options.items():
        if value is None:
            continue
        if key not in spec.options and key not in spec.defaults:
            raise ValueError(f"model {name!r} has no option {key!r}")
        if key in spec.options and value not in spec.options[key]:
            raise ValueError(f"{key} must be one of {', '.join(spec.options[key])}, got {value!r}")
        resolved[key] = value
    return resolved


def build_model(name: str, **options: Any) -> nn.Module:
    """Build a fresh model by registry name.

    Args:
        name: lenet5 | lenet5-classic | mlp.
        options: activation=relu|tanh|sigmoid, and pool=max|avg for the LeNets; None keeps the default.
    Returns:
        The model, in training mode, with randomly initialised weights.
    """
    resolved = resolve_options(name, **options)
    return MODELS[name].builder(**resolved)


@lru_cache(maxsize=None)
def _phase_taps(k: int) -> torch.Tensor:
    """Where each tap of a k×k kernel lands in the four phase kernels of a space-to-depth conv.

    Returns (4 phases, 4 sub-pixels, m, m) indices into the flattened kernel, m = k//2 + 1;
    the index k*k means "no tap here" (a zero weight).
    Output pixel (2i+a, 2j+b) reads input pixel (2i+a+u, 2j+b+v) = sub-pixel (s, t) of the
    space-to-depth cell (i+p, j+q) when a+u = 2p+s and b+v = 2q+t.
    """
    m = k // 2 + 1
    taps = torch.full((2, 2, 2, 2, m, m), k * k, dtype=torch.long)
    for a in range(2):
        for b in range(2):
            for s in range(2):
                for t in range(2):
                    for p in range(m):
                        for q in range(m):
                            u, v = 2 * p + s - a, 2 * q + t - b
                            if 0 <= u < k and 0 <= v < k:
                                taps[a, b, s, t, p, q] = u * k + v
    return taps.view(4, 4, m, m)


def conv_pool(x: torch.Tensor, conv: nn.Conv2d, pool: nn.Module) -> torch.Tensor:
    """pool(conv(x)) for a stride-1 k×k conv followed by 2×2 pooling, as one polyphase convolution.

    The 2×2 pooling window holds one output pixel of each "phase" (even/odd row × even/odd column).
    After space-to-depth (pixel_unshuffle, 2×2 cells -> 4 channels) every phase is an ordinary
    m×m conv, so a single conv computes all four phases as 4·C_out channels, and the pooling is a
    max (or mean) over the phase axis. For conv1 (1 input channel, 6 outputs) this is about twice
    as fast on CPU as conv2d + max_pool2d, whose kernels are poor at so few channels.
    """
    o, c, k, _ = conv.weight.shape
    m = k // 2 + 1
    w = torch.cat([conv.weight.reshape(o, c, k * k), conv.weight.new_zeros(o, c, 1)], 2)  # (O, C, k²+1)
    w = w[:, :, _phase_taps(k)]  # (O, C, 4 phases, 4 sub-pixels, m, m)
    w = w.permute(2, 0, 1, 3, 4, 5).reshape(4 * o, c * 4, m, m)  # pixel_unshuffle orders channels c·4 + s
    y = F.conv2d(F.pixel_unshuffle(x, 2), w, conv.bias.repeat(4))  # (B, 4·O, H/2 - m + 1, W/2 - m + 1)
    y = y.unflatten(1, (4, o))  # (B, 4 phases, O, H', W')
    return Max4.apply(y, "phase") if isinstance(pool, nn.MaxPool2d) else y.mean(1)


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """F.max_pool2d(x, 2) for even H and W, with a faster backward on CPU. x: (B, C, H, W)."""
    return Max4.apply(x, "space")


def _quarters(x: torch.Tensor, layout: str) -> list[torch.Tensor]:
    """The four views a 2×2 max picks from: phases on dim 1, or the 2×2 windows' corners."""
    if layout == "phase":
        return [x[:, k] for k in range(4)]
    return [x[..., i::2, j::2] for i in (0, 1) for j in (0, 1)]


class Max4(torch.autograd.Function):
    """Elementwise max of four views of x; on a tie the gradient goes to the first view.

    The max is taken as a tournament, max(max(a, b), max(c, d)), and the forward keeps who won
    each match as float 0/1 masks. The backward then routes the gradient with six multiply or
    subtract ops. PyTorch's max_pool2d and amax backward are slow on CPU at these sizes (they
    zero-fill and scatter, or build boolean masks, which are ~5x slower than float ones here).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, layout: str) -> torch.Tensor:
        a, b, c, d = _quarters(x, layout)
        ab, cd = torch.maximum(a, b), torch.maximum(c, d)
        wins = [torch.empty_like(ab) for _ in range(3)]
        torch.ge(a, b, out=wins[0])  # a beat (or tied) b
        torch.ge(c, d, out=wins[1])
        torch.ge(ab, cd, out=wins[2])  # the top pair beat (or tied) the bottom pair
        ctx.layout, ctx.shape = layout, x.shape
        ctx.save_for_backward(*wins)
        return torch.maximum(ab, cd)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        a_won, c_won, top_won = ctx.saved_tensors
        grad_x = grad.new_empty(ctx.shape)
        ga, gb, gc, gd = _quarters(grad_x, ctx.layout)
        top = grad * top_won
        bottom = grad - top
        torch.mul(top, a_won, out=ga)
        torch.sub(top, ga, out=gb)
        torch.mul(bottom, c_won, out=gc)
        torch.sub(bottom, gc, out=gd)
        return grad_x, None


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities (B, 10) for normalised images x (B, 1, 28, 28), in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    return F.softmax(model(x.to(device)), dim=1).cpu()
