"""The arithmetic of shapes: (n + 2p − f)/s + 1, and one row of a layer table.

Explain's table reads these rows from a model's own layers (lenet/inside/introspect.py); a design
works them out from its text before anything is built (lenet/designs.py). Both use this formula.
"""
from __future__ import annotations

from dataclasses import dataclass

from .messages import Message

__all__ = ["LayerRow", "output_size", "size_formula"]


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
    multiply_adds: int = 0  # for one image: out_channels·H'·W'·(in_channels·f·f) for a conv, in·out for a linear

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


def size_formula(n: int, f: int, p: int = 0, s: int = 1) -> Message:
    """The formula with its numbers filled in, and what PyTorch makes of the result."""
    size = output_size(n, f, p, s)
    if size < 1:
        shown = Message("formula.no_output")
    elif size != int(size):
        shown = Message("formula.rounded", size=size, whole=int(size))
    else:
        shown = f"{size:g}"
    return Message("formula.size", n=n, p=p, f=f, s=s, result=shown)
