"""Synthetic "drawings" made from MNIST test digits, to measure preprocessing + prediction.

Each drawing re-renders one MNIST digit the way a user would give it to LeNet Lab: any size
(20–90% of the image height), anywhere in the image, with thin, normal or thick strokes, as a
white-on-black canvas, a noisy dark-on-light paper photo (JPEG), or a transparent PNG.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.morphology import skeletonize

STYLES = ("canvas", "paper", "transparent")
STROKES = ("thin", "normal", "thick")
SIZES = {"small": (0.2, 0.4), "medium": (0.4, 0.65), "large": (0.65, 0.9)}  # digit height / image height
TUNE, REPORT = range(0, 5000), range(5000, 10000)  # MNIST test indices: tune on one, report on the other


@dataclass
class Drawing:
    image: np.ndarray | Image.Image  # what a user would hand over
    label: int
    style: str
    stroke: str
    size: str
    index: int  # MNIST test index it came from


def _shape(digit: np.ndarray, height: int, stroke: str) -> np.ndarray:
    """The digit redrawn with a round pen along its skeleton, `height` px tall, as ink 0..1.

    The pen's width is a fixed share of the height: thin 4%, normal 13% (about MNIST's own
    strokes) and thick 18%, like a thin or fat brush on the canvas.
    """
    ys, xs = np.nonzero(digit)
    crop = digit[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32) / 255
    h, w = crop.shape
    radius = max(0.6, {"thin": 0.02, "normal": 0.065, "thick": 0.09}[stroke] * height)
    inner = max(2, round(height - 2 * radius))  # the skeleton spans the height less the pen
    width = max(1, round(w * inner / h))
    crop_image = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32))
    big = np.asarray(crop_image.resize((width, inner), Image.Resampling.BICUBIC))
    skeleton = skeletonize(big > 0.25)
    pad = int(np.ceil(radius)) + 1
    skeleton = np.pad(skeleton, pad)
    distance = ndimage.distance_transform_edt(~skeleton)
    return np.clip(radius + 0.5 - distance, 0, 1).astype(np.float32)  # anti-aliased pen edge


def canvas_of(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 ink as the Draw page's canvas sends it: (H, W, 4) RGBA, gray on opaque black."""
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


def render(digit: np.ndarray, label: int, index: int, rng: np.random.Generator,
           style: str, stroke: str, size: str) -> Drawing:
    """Draw MNIST `digit` (28×28 uint8) as a user image of the given style, stroke and size."""
    H, W = (280, 280) if style == "canvas" else (int(rng.integers(240, 600)), int(rng.integers(240, 600)))
    lo, hi = SIZES[size]
    shape = _shape(digit, max(8, round(H * rng.uniform(lo, hi))), stroke)
    shape = shape[:H, :W]
    h, w = shape.shape
    top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
    ink = np.zeros((H, W), np.float32)
    ink[top:top + h, left:left + w] = shape
    if style == "canvas":  # the Draw page's canvas: opaque white ink on black, RGBA
        image = canvas_of((ink * 255 + 0.5).astype(np.uint8))
    elif style == "transparent":  # a PNG with dark ink on a transparent background
        rgba = np.zeros((H, W, 4), np.uint8)
        rgba[..., :3] = rng.integers(0, 60)
        rgba[..., 3] = (ink * 255 + 0.5).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgba).save(buf, "PNG")
        image = Image.open(io.BytesIO(buf.getvalue()))
    else:  # a phone photo of paper: uneven light, grey pencil, sensor noise, JPEG
        yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
        paper = rng.uniform(0.75, 0.95) + rng.uniform(-0.08, 0.08) * (yy - 0.5) + rng.uniform(-0.08, 0.08) * (xx - 0.5)
        pencil = rng.uniform(0.05, 0.35)
        gray = paper * (1 - ink) + pencil * ink + rng.normal(0, rng.uniform(0.01, 0.05), (H, W))
        buf = io.BytesIO()
        Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8)).convert("RGB").save(
            buf, "JPEG", quality=int(rng.integers(60, 92)))
        image = Image.open(io.BytesIO(buf.getvalue()))
    return Drawing(image=image, label=label, style=style, stroke=stroke, size=size, index=index)


def drawings(images: np.ndarray, labels: np.ndarray, indices: range, n: int, seed: int) -> list[Drawing]:
    """n drawings from MNIST test images[indices], cycling through every style × stroke × size."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.asarray(indices), size=n, replace=False)
    kinds = [(s, k, z) for s in STYLES for k in STROKES for z in SIZES]
    return [render(images[i], int(labels[i]), int(i), rng, *kinds[j % len(kinds)]) for j, i in enumerate(picks)]


def canvas_url(image: np.ndarray) -> str:
    """A canvas drawing (H, W, 4) as the PNG data URL the Draw page's canvas sends."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def as_file(image: Image.Image, kind: str = "PNG") -> io.BytesIO:
    """A picture as the bytes of a file, as a student's upload or `lenet predict FILE` reads it."""
    buf = io.BytesIO()
    image.save(buf, kind, **({"quality": 85} if kind == "JPEG" else {}))
    buf.seek(0)
    return buf


def noise_pictures(n: int, size: int, rng: np.random.Generator) -> list[io.BytesIO]:
    """Uniform noise, every pixel 0..255, as `size`×`size` grey PNG files."""
    return [as_file(Image.fromarray((rng.random((size, size)) * 256).astype(np.uint8))) for _ in range(n)]
