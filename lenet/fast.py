"""Faster training kernels for LeNet-5 on the CPU, entered on purpose with `accelerate(model)`.

The model in models.py is the one to read; this file is the one to tune. `accelerate` wraps a
LeNet5 in a module that shares its layers (so its weights, and its state_dict keys) and computes
the same function another way:

- conv1 + pool1 as one polyphase convolution (`conv_pool`): PyTorch's conv and pooling kernels
  are poor at 1 input and 6 output channels;
- both 2×2 max-pools as a tournament whose backward is a few multiplies (`Max4`).

Training uses it (lenet.train); inference, the explainer and export use the plain model.
tests/lenet/test_fast.py checks, in float64, that outputs and gradients match the plain layers.
"""
from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from .models import LeNet5

__all__ = ["FastLeNet5", "Max4", "accelerate", "conv_pool", "max_pool_2x2"]


class FastLeNet5(nn.Module):
    """A LeNet5 computed with the kernels below. It holds the plain model's own layers, so
    training it trains the plain model, and both have the same state_dict keys."""

    def __init__(self, plain: LeNet5) -> None:
        super().__init__()
        self.features, self.flatten, self.classifier = plain.features, plain.flatten, plain.classifier
        self.c5_conv = plain.c5_conv
        self.max_pool = isinstance(plain.features.pool2, nn.MaxPool2d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features
        x = f.pad(x)  # (B, 1, 32, 32)
        x = conv_pool(x, f.conv1, f.pool1)  # (B, 6, 14, 14): conv1 and pool1 in one pass
        x = f.act1(x)
        x = f.conv2(x)  # (B, 16, 10, 10)
        x = max_pool_2x2(x) if self.max_pool else f.pool2(x)  # (B, 16, 5, 5)
        x = f.act2(x)
        if self.c5_conv:
            x = f.act3(f.conv3(x))  # (B, 120, 1, 1)
        return self.classifier(self.flatten(x))  # (B, 10)


def accelerate(model: nn.Module) -> nn.Module:
    """The model to train: a FastLeNet5 sharing `model`'s layers, or `model` itself when there
    is nothing to fuse (the MLP). The plain model is not changed."""
    return FastLeNet5(model) if isinstance(model, LeNet5) else model


@cache
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
    max (or mean) over the phase axis.
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
