"""What the Draw page's pad holds, as plain functions of plain data, tested on their own (the canvas
component itself can't run outside a browser): which of drawing and upload changed last, how many
strokes the canvas holds, and either one read into an MNIST-style input."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet.ink import load_image
from lenet.preprocess import NoDigitError, Preprocessed, to_mnist

__all__ = ["Sources", "read_canvas", "read_upload", "strokes"]


@dataclass
class Sources:
    """What the Draw page read last, so that whichever of drawing and upload changed last is
    what gets predicted."""
    strokes: int = 0  # objects on the canvas when last seen
    upload: str | None = None  # the upload's file id when last seen
    latest: str | None = None  # "drawing", "upload", or None: nothing to read

    def update(self, strokes: int, upload: str | None) -> str | None:
        """Record what the page sees now; returns the source to read."""
        if upload is not None and upload != self.upload:
            self.latest = "upload"  # a new file
        elif strokes and strokes != self.strokes:
            self.latest = "drawing"  # a new stroke, or an undo
        elif self.latest == "upload" and upload is None:
            self.latest = "drawing" if strokes else None  # the file was removed
        elif self.latest == "drawing" and not strokes:
            self.latest = "upload" if upload else None  # the canvas was cleared
        self.strokes, self.upload = strokes, upload
        return self.latest


def strokes(json_data: dict | None) -> int:
    """How many strokes the canvas holds, from its JSON."""
    return len((json_data or {}).get("objects") or [])


def read_canvas(image_data: np.ndarray | None) -> Preprocessed | None:
    """The canvas's RGBA array as an MNIST-style input, or None for an empty canvas."""
    if image_data is None:
        return None
    try:
        return to_mnist(image_data)
    except NoDigitError:
        return None


def read_upload(data: bytes) -> Preprocessed:
    """An uploaded file as an MNIST-style input. Raises ImageError or NoDigitError with a
    message for the user."""
    return to_mnist(load_image(data))
