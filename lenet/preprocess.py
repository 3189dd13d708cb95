"""Any picture of a digit -> a 1×1×28×28 tensor made the way MNIST was made.

MNIST's recipe (LeCun et al.): the ink is size-normalised to fit a 20×20 box, keeping its
aspect ratio, with anti-aliasing (hence the grey levels), then centred in a 28×28 field by
its centre of mass. `to_mnist` follows it step by step and keeps every intermediate image so
the app can show them. Finding the ink in a canvas, photo or scan first is ink.py's job.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .data import MEAN, STD
from .ink import ImageLike, as_image, ink_map, resize_longest
from .messages import Message

__all__ = ["BOX", "FIELD", "NoDigitError", "Preprocessed", "naive_resize", "to_mnist"]

BOX, FIELD = 20, 28  # MNIST: ink fitted into 20×20, placed in 28×28
COM_TARGET = 14.0  # mean centre of mass (row and column) of the MNIST training digits
CLEAR_INK = 0.25  # ink (0..1) at least this strong outlines the digit; fainter is halo or noise
STRAY_SHARE = 0.005  # each side may lose this share of the ink to stray specks beyond a gap
NO_DIGIT = Message("image.no_digit")


class NoDigitError(ValueError):
    """The image holds no ink that could be a digit."""


@dataclass
class Preprocessed:
    tensor: torch.Tensor  # (1, 1, 28, 28) normalised: what the model sees
    ink: np.ndarray  # (H, W) uint8, the ink found in the input, 255 = full ink
    cropped: np.ndarray  # (h, w) uint8, cut to the ink's bounding box
    fitted: np.ndarray  # (20, 20) uint8, scaled to fit the 20×20 box, aspect kept
    centred: np.ndarray  # (28, 28) uint8, placed by centre of mass


def to_mnist(image: ImageLike) -> Preprocessed:
    """Preprocess a drawing, photo or scan into an MNIST-style input.

    Args:
        image: an (H, W[, 3|4]) array (uint8, uint16 or float) such as the canvas's RGBA data,
            or a PIL image in any mode (8/16-bit grey, palette, RGB, with or without alpha).
    Returns:
        Preprocessed: the (1, 1, 28, 28) tensor and every intermediate image.
    Raises:
        NoDigitError: the image holds no ink; ImageError: the input isn't a usable image.
    """
    ink = ink_map(image)  # (H, W) 0..1
    box = _ink_box(ink)
    if box is None:
        raise NoDigitError(NO_DIGIT)
    cropped = ink[box]  # (h, w)
    fitted = _fit(cropped)  # longer side 20
    centred = _centre(fitted)  # (28, 28)
    return Preprocessed(tensor=_to_tensor(centred), ink=_u8(ink), cropped=_u8(cropped), fitted=_u8(_boxed(fitted)),
                        centred=_u8(centred))


def naive_resize(image: ImageLike) -> Preprocessed:
    """The whole image squeezed to 28×28 with no cropping or centring: the comparison the
    Draw page shows, to make the point of MNIST-style preprocessing."""
    ink = ink_map(image)
    if not ink.any():
        raise NoDigitError(NO_DIGIT)
    small = np.array(as_image(ink).resize((FIELD, FIELD), Image.Resampling.BOX))
    return Preprocessed(tensor=_to_tensor(small), ink=_u8(ink), cropped=_u8(ink), fitted=_u8(small), centred=_u8(small))


def _ink_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of the ink, ignoring stray specks.

    Per axis: cut STRAY_SHARE of the ink on each side, then grow back over every row (or column)
    that still touches ink, so only parts cut off by empty space stay out.
    """
    core = ink > CLEAR_INK
    if core.sum() < 2:
        return None
    bounds = []
    for profile in (core.sum(1), core.sum(0)):
        cum = np.cumsum(profile) / profile.sum()
        lo = int(np.searchsorted(cum, STRAY_SHARE, side="right"))
        hi = int(np.searchsorted(cum, 1 - STRAY_SHARE, side="left"))
        while lo > 0 and profile[lo - 1] > 0:
            lo -= 1
        while hi < len(profile) - 1 and profile[hi + 1] > 0:
            hi += 1
        bounds.append(slice(lo, hi + 1))
    return bounds[0], bounds[1]


def _fit(cropped: np.ndarray) -> np.ndarray:
    """Scale to fit BOX×BOX keeping the aspect ratio (anti-aliased), peak ink = 1."""
    fitted = resize_longest(cropped, BOX)
    return fitted / max(float(fitted.max(initial=0)), 1e-6)


def _centre(fitted: np.ndarray) -> np.ndarray:
    """Place in FIELD×FIELD so the centre of mass lands on MNIST's (14, 14), staying inside."""
    h, w = fitted.shape
    mass = fitted.sum()
    cy = float((fitted.sum(1) * np.arange(h)).sum() / mass)
    cx = float((fitted.sum(0) * np.arange(w)).sum() / mass)
    top = int(np.clip(round(COM_TARGET - cy), 0, FIELD - h))
    left = int(np.clip(round(COM_TARGET - cx), 0, FIELD - w))
    field = np.zeros((FIELD, FIELD), np.float32)
    field[top:top + h, left:left + w] = fitted
    return field


def _boxed(fitted: np.ndarray) -> np.ndarray:
    """The fitted digit in the middle of its BOX×BOX box, for display."""
    h, w = fitted.shape
    box = np.zeros((BOX, BOX), np.float32)
    box[(BOX - h) // 2:(BOX - h) // 2 + h, (BOX - w) // 2:(BOX - w) // 2 + w] = fitted
    return box


def _to_tensor(field: np.ndarray) -> torch.Tensor:
    return ((torch.from_numpy(np.ascontiguousarray(field, dtype=np.float32)) - MEAN) / STD).view(1, 1, FIELD, FIELD)


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
