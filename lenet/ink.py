"""Find the ink in any picture of a digit: a canvas, a photo of paper, or a transparent PNG.

This is the messy half of preprocessing, kept apart from MNIST's short recipe (preprocess.py):
opening files safely, reading grey and alpha, telling ink from paper whichever is lighter,
and cleaning away uneven light and sensor noise.
"""
from __future__ import annotations

import io
import warnings
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from .messages import Message

__all__ = ["MAX_PIXELS", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_MB", "ImageError", "ImageLike", "as_image", "ink_map",
           "load_image", "resize_longest"]

MAX_UPLOAD_MB = 10  # larger files are refused before decoding (.streamlit/config.toml's maxUploadSize too)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 2**20
MAX_PIXELS = 40_000_000  # a decoded image larger than this is treated as a decompression bomb (JPEGs are
#                         decoded small first, WORK_SIDE, so the limit follows the memory a picture takes)
WORK_SIDE = 2048  # the longest side a picture is read at: its digit is cut out and shrunk to 20×20 anyway
WORK_SIDE = 512  # larger inputs are shrunk to this first: plenty for a digit, and fast
BORDER_PARTS = 50  # a band 1/50 of the shorter side wide, all round, is taken to be paper (or canvas)
DARK_BACKGROUND = 0.5  # a border darker than this is a dark background: the ink is the lighter part
TRANSPARENT_BACKGROUND = 0.5  # a border less opaque than this is transparent: the ink is the alpha
NOISY_PAPER = 0.02  # pixel noise (std, 0..1) above which the paper is median-filtered first
NOISE_MARGIN = 4  # ink must stand this many noise std above the paper
PAPER_TOLERANCE = 0.05  # border pixels this close to the fitted paper plane count as paper
MIN_INK_CONTRAST = 0.12  # the darkest ink must differ from the paper by this much to be a digit
FAINT_SPECK = 0.2  # on noisy paper, ink fainter than this (0..1) is a speck that outlived the filter
MAD_TO_STD = 1.4826 / np.sqrt(2)  # median |difference of two neighbours| -> the std of one pixel's noise

ImageSource = bytes | str | Path | BinaryIO
ImageLike = np.ndarray | Image.Image


class ImageError(ValueError):
    """The input can't be used as an image; the message says why and what to do."""


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
            if image.format == "JPEG":  # decoded at 1/2 to 1/8 scale: a 48 MP phone photo takes 3 MP of memory
                image.draft(image.mode, (WORK_SIDE, WORK_SIDE))
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(Message("image.too_many_pixels", width=image.width, height=image.height,
                                         limit=MAX_PIXELS // 1_000_000))
            image.load()
            if max(image.size) > WORK_SIDE:  # more pixels than finding the ink needs: less memory for the rest
                image.thumbnail((WORK_SIDE, WORK_SIDE))
            return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(Message("image.bomb", limit=MAX_PIXELS // 1_000_000)) from None
    except UnidentifiedImageError:
        raise ImageError(Message("image.unreadable")) from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(Message("image.damaged", reason=str(err))) from None


def _read_bytes(source: ImageSource, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(Message("image.no_file", path=str(path)))
        if path.stat().st_size > max_bytes:
            raise ImageError(Message("image.file_too_big", path=str(path), size_mb=path.stat().st_size / 2**20,
                                     limit_mb=max_bytes / 2**20))
        data = path.read_bytes()
    else:
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(Message("image.too_big", limit_mb=max_bytes / 2**20))
    if not data:
        raise ImageError(Message("image.empty"))
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
        raise ImageError(Message("image.bad_shape", shape=str(a.shape)))
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
        raise ImageError(Message("image.bad_dtype", dtype=str(a.dtype)))
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


def as_image(a: np.ndarray) -> Image.Image:
    """A float32 ("F" mode) PIL image of a 2-D array, for PIL's resampling and filters."""
    return Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))


def resize_longest(a: np.ndarray, longest: int,
                   resample: Image.Resampling = Image.Resampling.BILINEAR) -> np.ndarray:
    """Scale so the longer side is `longest` px, keeping the aspect ratio, anti-aliased."""
    h, w = a.shape
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(as_image(a).resize(size, resample))


@lru_cache(maxsize=8)
def _border(shape: tuple[int, int]) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """A band around the edge, taken to be paper (or canvas): its pixel indices, the design
    matrix of a plane a + b·y + c·x there, and its pseudo-inverse. Cached per image size."""
    h, w = shape
    band = max(1, min(h, w) // BORDER_PARTS)
    mask = np.zeros(shape, bool)
    mask[:band], mask[-band:], mask[:, :band], mask[:, -band:] = True, True, True, True
    ys, xs = np.nonzero(mask)
    design = np.stack([np.ones(len(ys)), ys / h, xs / w], 1)
    return (ys, xs), design, np.linalg.pinv(design)


def _paper(gray: np.ndarray, noise: float) -> np.ndarray:
    """The paper's brightness under uneven light: a plane a + b·y + c·x fitted to the border,
    refitted without the border pixels that are ink (a digit may touch the edge). (H, W)."""
    h, w = gray.shape
    (ys, xs), design, fit = _border(gray.shape)
    values = gray[ys, xs]
    coef = fit @ values
    paper = np.abs(values - design @ coef) < max(NOISE_MARGIN * noise, PAPER_TOLERANCE)
    if 3 < paper.sum() < len(values):
        coef, *_ = np.linalg.lstsq(design[paper], values[paper], rcond=None)
    a, b, c = coef
    return a + b * np.arange(h, dtype=np.float32)[:, None] / h + c * np.arange(w, dtype=np.float32)[None, :] / w


def _noise(a: np.ndarray) -> float:
    """Pixel noise (std) of an image, robust to ink and to uneven light: from the median absolute
    difference between horizontal neighbours, which differ only by noise almost everywhere.
    Every third row is plenty, and three times faster."""
    return float(np.median(np.abs(np.diff(a[::3], axis=1)))) * MAD_TO_STD


def ink_map(image: ImageLike) -> np.ndarray:
    """Where the ink is: (H, W) float32, 0 = background, 1 = full ink.

    A transparent background (judged from the border) makes alpha the ink. Otherwise the
    paper is a plane fitted to the border's grey levels (uneven light), and ink is whatever
    differs from it in the other direction, so dark-on-light and light-on-dark both work.
    Noisy paper is median-filtered, and anything within a few noise levels of it is cleared.
    """
    gray, alpha = _gray_alpha(image)
    if max(gray.shape) > WORK_SIDE:
        gray = resize_longest(gray, WORK_SIDE, Image.Resampling.BOX)
        alpha = None if alpha is None else resize_longest(alpha, WORK_SIDE, Image.Resampling.BOX)
    edge, *_ = _border(gray.shape)
    if alpha is not None and np.median(alpha[edge]) < TRANSPARENT_BACKGROUND:
        ink = alpha
        noise = _noise(ink)
    else:
        noise = _noise(gray)  # the plane below changes neighbour differences by ~1e-3 at most
        ink = gray - _paper(gray, noise)
        ink = ink if np.median(gray[edge]) < DARK_BACKGROUND else -ink
    noisy = noise > NOISY_PAPER
    if noisy:
        ink = np.asarray(as_image(ink).filter(ImageFilter.MedianFilter(3)))
        noise = _noise(ink)
    floor = max(0.0, float(np.median(ink[edge]))) + NOISE_MARGIN * noise
    ink = np.clip(ink, 0, 1).astype(np.float32)
    peak = float(ink.max(initial=0))
    if peak - floor < MIN_INK_CONTRAST:
        return np.zeros_like(ink)
    ink = np.clip((ink - floor) / (peak - floor), 0, 1)
    if noisy:
        ink[ink < FAINT_SPECK] = 0
    return ink.astype(np.float32)
