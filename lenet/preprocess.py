"""Any picture of a digit -> a 1×1×28×28 tensor made the way MNIST was made.

MNIST's recipe (LeCun et al.): the ink is size-normalised to fit a 20×20 box, keeping its
aspect ratio, with anti-aliasing (hence the grey levels), then centred in a 28×28 field by
its centre of mass. This module finds the ink first (canvas, paper photo or transparent PNG),
then follows the same steps, keeping each intermediate image so the app can show them.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from .data import MEAN, STD

__all__ = ["MAX_UPLOAD_BYTES", "MAX_PIXELS", "ImageError", "NoDigitError", "Preprocessed",
           "load_image", "ink_map", "to_mnist", "naive_resize"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # larger files are refused before decoding
MAX_PIXELS = 40_000_000  # a decoded image larger than this is treated as a decompression bomb
WORK_SIDE = 512  # larger inputs are shrunk to this first: plenty for a digit, and fast
BOX, FIELD = 20, 28  # MNIST: ink fitted into 20×20, placed in 28×28
COM_TARGET = 14.0  # mean centre of mass (row and column) of the MNIST training digits
NOISY = 0.02  # border noise (robust std) above which a median filter cleans the paper first
INK_FLOOR = 0.12  # darkest ink, relative to the background, that still counts as a digit
NO_DIGIT = "no digit found: the image has no ink; draw or upload a digit"

ImageSource = Union[bytes, str, Path, BinaryIO]
ImageLike = Union[np.ndarray, Image.Image]


class ImageError(ValueError):
    """The input can't be used as an image; the message says why and what to do."""


class NoDigitError(ValueError):
    """The image holds no ink that could be a digit."""


@dataclass
class Preprocessed:
    tensor: torch.Tensor  # (1, 1, 28, 28) normalised: what the model sees
    ink: np.ndarray  # (H, W) uint8, the ink found in the input, 255 = full ink
    cropped: np.ndarray  # (h, w) uint8, cut to the ink's bounding box
    fitted: np.ndarray  # (20, 20) uint8, scaled to fit the 20×20 box, aspect kept
    centred: np.ndarray  # (28, 28) uint8, placed by centre of mass


def load_image(source: ImageSource, max_bytes: int = MAX_UPLOAD_BYTES) -> Image.Image:
    """Open an uploaded or on-disk image safely: size-limited, fully decoded, EXIF-rotated.

    Raises ImageError for a file that is too big, isn't an image, is truncated, or would
    decode to more than MAX_PIXELS pixels (a decompression bomb).
    """
    data = _read_bytes(source, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(
                    f"the image would decode to {image.width}×{image.height} pixels, more than the "
                    f"{MAX_PIXELS // 1_000_000} million allowed (a decompression bomb?); use a smaller image"
                )
            image.load()
            return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"the image would decode to far more than {MAX_PIXELS // 1_000_000} million pixels "
                         "(a decompression bomb?); use a smaller image") from None
    except UnidentifiedImageError:
        raise ImageError("this is not an image that can be read; upload a PNG or JPEG") from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"the image file is damaged or truncated ({err}); try saving it again") from None


def _read_bytes(source: ImageSource, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
        if path.stat().st_size > max_bytes:
            raise ImageError(f"{path} is {path.stat().st_size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB")
        data = path.read_bytes()
    else:
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(f"the file is over {max_bytes / 2**20:.0f} MB; use a smaller image")
    if not data:
        raise ImageError("the file is empty")
    return data


def _gray_alpha(image: ImageLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey level and alpha, each (H, W) float32 in 0..1; alpha is None when the image has none
    or is fully opaque."""
    if isinstance(image, Image.Image):
        return _pil_gray_alpha(image)
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ImageError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image array, got shape {a.shape}")
    if a.dtype == np.uint8 and a.ndim == 3:  # the canvas's RGBA: let PIL do the colour maths, in C
        return _pil_gray_alpha(Image.fromarray(np.ascontiguousarray(a)))
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535
    elif a.dtype == bool or np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        a = a / 255 if a.max(initial=0) > 1 else a
    else:
        raise ImageError(f"unsupported image dtype {a.dtype}; use uint8, uint16 or float")
    if a.ndim == 2:
        return a, None
    gray = a[:, :, 0] * 0.299 + a[:, :, 1] * 0.587 + a[:, :, 2] * 0.114  # ITU-R 601 luma, as PIL's "L"
    alpha = a[:, :, 3] if a.shape[2] == 4 else None
    return gray, (None if alpha is None or alpha.min() >= 1 else alpha)


def _pil_gray_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(image, dtype=np.float32)
        top = 65535 if image.mode.startswith("I;16") or a.max(initial=0) > 255 else 255
        return (a / top if image.mode != "F" else a / max(1.0, float(a.max(initial=0)))), None
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] < 255:
            return gray, np.asarray(alpha, dtype=np.float32) / 255
    return gray, None


def _image(a: np.ndarray) -> Image.Image:
    """A float32 ("F" mode) PIL image of a 2-D array, for PIL's resampling and filters."""
    return Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))


@lru_cache(maxsize=8)
def _border(shape: tuple[int, int]) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """A band around the edge, taken to be paper (or canvas): its pixel indices, and the
    pseudo-inverse that fits a plane a + b·y + c·x to values there. Cached per image size."""
    h, w = shape
    band = max(1, min(h, w) // 50)
    mask = np.zeros(shape, bool)
    mask[:band], mask[-band:], mask[:, :band], mask[:, -band:] = True, True, True, True
    ys, xs = np.nonzero(mask)
    design = np.stack([np.ones(len(ys)), ys / h, xs / w], 1)
    return (ys, xs), np.linalg.pinv(design)


def _paper(gray: np.ndarray, noise: float) -> np.ndarray:
    """The paper's brightness under uneven light: a plane a + b·y + c·x fitted to the border,
    refitted without the border pixels that are ink (a digit may touch the edge). (H, W)."""
    h, w = gray.shape
    (ys, xs), fit = _border(gray.shape)
    values = gray[ys, xs]
    coef = fit @ values
    design = np.stack([np.ones(len(ys)), ys / h, xs / w], 1)
    paper = np.abs(values - design @ coef) < max(4 * noise, 0.05)
    if 3 < paper.sum() < len(values):
        coef, *_ = np.linalg.lstsq(design[paper], values[paper], rcond=None)
    a, b, c = coef
    return a + b * np.arange(h, dtype=np.float32)[:, None] / h + c * np.arange(w, dtype=np.float32)[None, :] / w


def _noise(a: np.ndarray) -> float:
    """Pixel noise (std) of an image, robust to ink and to uneven light: from the median absolute
    difference between horizontal neighbours, which differ only by noise almost everywhere.
    Every third row is plenty, and three times faster."""
    return float(np.median(np.abs(np.diff(a[::3], axis=1)))) * 1.4826 / np.sqrt(2)


def ink_map(image: ImageLike) -> np.ndarray:
    """Where the ink is: (H, W) float32, 0 = background, 1 = full ink.

    A transparent background (judged from the border) makes alpha the ink. Otherwise the
    paper is a plane fitted to the border's grey levels (uneven light), and ink is whatever
    differs from it in the other direction, so dark-on-light and light-on-dark both work.
    Noisy paper is median-filtered, and anything within a few noise levels of it is cleared.
    """
    gray, alpha = _gray_alpha(image)
    if max(gray.shape) > WORK_SIDE:
        gray = _resize(gray, WORK_SIDE, Image.Resampling.BOX)
        alpha = None if alpha is None else _resize(alpha, WORK_SIDE, Image.Resampling.BOX)
    edge, _ = _border(gray.shape)
    if alpha is not None and np.median(alpha[edge]) < 0.5:
        ink = alpha
        noise = _noise(ink)
    else:
        noise = _noise(gray)  # the plane below changes neighbour differences by ~1e-3 at most
        ink = gray - _paper(gray, noise)
        ink = ink if np.median(gray[edge]) < 0.5 else -ink
    noisy = noise > NOISY
    if noisy:
        ink = np.asarray(_image(ink).filter(ImageFilter.MedianFilter(3)))
        noise = _noise(ink)
    floor = max(0.0, float(np.median(ink[edge]))) + 4 * noise
    ink = np.clip(ink, 0, 1).astype(np.float32)
    peak = float(ink.max(initial=0))
    if peak - floor < INK_FLOOR:
        return np.zeros_like(ink)
    ink = np.clip((ink - floor) / (peak - floor), 0, 1)
    if noisy:  # specks that outlived the median filter are faint; real strokes are not
        ink[ink < 0.2] = 0
    return ink.astype(np.float32)


def _ink_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of the ink, ignoring stray specks.

    Per axis: cut the outer 0.5% of ink mass on each side, then grow back over every row (or
    column) that still touches ink, so only parts cut off by empty space stay out.
    """
    core = ink > 0.25  # clearly ink, not the faint halo of noise that survives the floor
    if core.sum() < 2:
        return None
    bounds = []
    for profile in (core.sum(1), core.sum(0)):
        cum = np.cumsum(profile) / profile.sum()
        lo = int(np.searchsorted(cum, 0.005, side="right"))
        hi = int(np.searchsorted(cum, 0.995, side="left"))
        while lo > 0 and profile[lo - 1] > 0:
            lo -= 1
        while hi < len(profile) - 1 and profile[hi + 1] > 0:
            hi += 1
        bounds.append(slice(lo, hi + 1))
    return bounds[0], bounds[1]


def _resize(a: np.ndarray, longest: int, resample: Image.Resampling = Image.Resampling.BILINEAR) -> np.ndarray:
    """Scale so the longer side is `longest` px, keeping the aspect ratio, anti-aliased."""
    h, w = a.shape
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(_image(a).resize(size, resample))


def _fit(cropped: np.ndarray) -> np.ndarray:
    """Scale to fit BOX×BOX keeping the aspect ratio (anti-aliased), peak ink = 1."""
    fitted = _resize(cropped, BOX)
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


def _to_tensor(field: np.ndarray) -> torch.Tensor:
    return ((torch.from_numpy(np.ascontiguousarray(field, dtype=np.float32)) - MEAN) / STD).view(1, 1, FIELD, FIELD)


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)


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
    ink = ink_map(image)
    box = _ink_box(ink)
    if box is None:
        raise NoDigitError(NO_DIGIT)
    cropped = ink[box]
    fitted = _fit(cropped)
    centred = _centre(fitted)
    h, w = fitted.shape
    boxed = np.zeros((BOX, BOX), np.float32)  # the fitted digit shown in its 20×20 box
    boxed[(BOX - h) // 2:(BOX - h) // 2 + h, (BOX - w) // 2:(BOX - w) // 2 + w] = fitted
    return Preprocessed(_to_tensor(centred), _u8(ink), _u8(cropped), _u8(boxed), _u8(centred))


def naive_resize(image: ImageLike) -> Preprocessed:
    """The whole image squeezed to 28×28 with no cropping or centring: the comparison the
    Draw page shows, to make the point of MNIST-style preprocessing."""
    ink = ink_map(image)
    if not ink.any():
        raise NoDigitError(NO_DIGIT)
    small = np.array(_image(ink).resize((FIELD, FIELD), Image.Resampling.BOX))
    return Preprocessed(_to_tensor(small), _u8(ink), _u8(ink), _u8(small), _u8(small))
