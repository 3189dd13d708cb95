"""The logic behind the Draw page, as plain functions (the canvas itself can't run in AppTest)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lenet.models import predict
from lenet.preprocess import ImageError, NoDigitError, Preprocessed, load_image, naive_resize, to_mnist


@dataclass
class Reading:
    digit: int
    confidence: float  # probability of `digit`, 0..1
    probs: list[float]  # all ten


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


def read(model: torch.nn.Module, pre: Preprocessed) -> Reading:
    probs = predict(model, pre.tensor)[0]
    digit = int(probs.argmax())
    return Reading(digit, float(probs[digit]), probs.tolist())


__all__ = ["Reading", "read_canvas", "read_upload", "read", "enlarge", "naive_resize", "ImageError", "NoDigitError"]
