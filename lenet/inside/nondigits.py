"""Things that are not digits, made on demand: uniform noise, letters from a font, random strokes.

What ood.py is measured on (bench/ood.py, docs/performance.md), and what the "Not a digit?" lesson
shows. Letters and strokes are drawn on a 280×280 canvas, white on black, as on the Draw page, and
preprocessed the same way (to_mnist); noise is made directly as the 28×28 input the model reads.
Each is fixed by its seed, so the lesson and the figures are the same on every machine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..preprocess import to_mnist

__all__ = ["CANVAS", "FONTS", "LETTERS", "font", "letters", "noise", "strokes"]

CANVAS, PEN = 280, 18  # the Draw page's canvas and pen
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")  # Debian's fonts-dejavu-core (.ci/run)
FONTS = ("aileron", "dejavu-serif")  # Pillow's own sans-serif (always there), and a serif


def font(name: str, size: int = 180) -> ImageFont.FreeTypeFont:
    """One of FONTS at `size` px. OSError if the serif isn't installed (apt install fonts-dejavu-core)."""
    if name == "aileron":
        return ImageFont.load_default(size=size)  # Pillow ≥ 10.1 ships Aileron Regular inside
    if name == "dejavu-serif":
        return ImageFont.truetype(str(DEJAVU), size)
    raise ValueError(f"unknown font {name!r}: choose one of {', '.join(FONTS)}")


def _centred(canvas: Image.Image) -> np.ndarray:
    return to_mnist(np.asarray(canvas)).centred  # (28, 28) uint8


def letters(name: str = "aileron", text: str = LETTERS) -> np.ndarray:
    """Each letter of `text` in font `name`, as the Draw page would read it: uint8 (len(text), 28, 28)."""
    face, out = font(name), []
    for ch in text:
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        ImageDraw.Draw(canvas).text((CANVAS / 2, CANVAS / 2), ch, fill=255, font=face, anchor="mm")
        out.append(_centred(canvas))
    return np.stack(out)


def strokes(n: int, seed: int = 0) -> np.ndarray:
    """n random pen paths of 3 to 7 points each, as the Draw page would read them: uint8 (n, 28, 28)."""
    rng, out = np.random.default_rng(seed), []
    for _ in range(n):
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        points = [tuple(rng.uniform(20, CANVAS - 20, 2)) for _ in range(rng.integers(3, 8))]
        ImageDraw.Draw(canvas).line(points, fill=255, width=PEN, joint="curve")
        out.append(_centred(canvas))
    return np.stack(out)


def noise(n: int, seed: int = 0) -> np.ndarray:
    """n images of uniform noise, every pixel 0..255 independently: uint8 (n, 28, 28)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 28, 28), generator=generator, dtype=torch.uint8).numpy()
