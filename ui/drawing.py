"""The logic behind the Draw page, as plain functions (the canvas itself can't run in AppTest)."""
from __future__ import annotations

import numpy as np

from lenet.ink import ImageError, load_image
from lenet.preprocess import NoDigitError, Preprocessed, to_mnist

__all__ = ["ImageError", "NoDigitError", "enlarge", "read_canvas", "read_upload"]


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


def enlarge(image: np.ndarray, size: int = 140) -> np.ndarray:
    """Blow a small uint8 image up with square pixels (no blur), so 28×28 stays readable."""
    h, w = image.shape
    k = max(1, size // max(h, w))
    return np.kron(image, np.ones((k, k), np.uint8))
