"""Pictures for the pages, as uint8 arrays: a digit blown up with square pixels, a grid of feature
maps, a window outlined on a map, a heat map over a drawing. Plain functions of plain data: an
image is the quickest thing a browser shows, and the pages redraw these often."""
from __future__ import annotations

import numpy as np
import plotly.express as px
from PIL import Image

from ui.common.figures import VERMILLION

__all__ = ["enlarge", "heat_overlay", "mosaic", "tile", "window_on"]


def enlarge(image: np.ndarray, size: int = 140) -> np.ndarray:
    """Blow a small uint8 image up with square pixels (no blur), so 28×28 stays readable."""
    h, w = image.shape
    k = max(1, size // max(h, w))
    return image.repeat(k, axis=0).repeat(k, axis=1)



def tile(image: np.ndarray, size: int = 160) -> np.ndarray:
    """The image inside a size×size tile, aspect ratio kept, on black: a thin 1 drawn tall stays
    a thin 1 in a tile as big as the others, so the four steps line up with their captions.
    Small images grow with square pixels; large ones shrink smoothly."""
    h, w = image.shape
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    fitted = np.asarray(Image.fromarray(image).resize(new, resample))
    out = np.zeros((size, size), np.uint8)
    top, left = (size - new[1]) // 2, (size - new[0]) // 2
    out[top:top + new[1], left:left + new[0]] = fitted
    return out


def mosaic(stack: np.ndarray, columns: int = 8, cell: int = 84, gap: int = 4) -> np.ndarray:
    """A grid of 2-D maps (N, H, W) as one uint8 picture: each map scaled to its own 0..255
    range and blown up to `cell` px with square pixels, on a white background.
    (One image instead of N plotly panels: the Explain page stays quick.) All maps at once: a
    loop of np.kron per map was 3% of a class's server, Explain being opened now and then."""
    n, h, w = stack.shape
    columns = min(columns, n)
    rows = -(-n // columns)
    k = max(1, cell // max(h, w))
    lo, hi = stack.min(axis=(1, 2), keepdims=True), stack.max(axis=(1, 2), keepdims=True)  # (N, 1, 1) each
    flat = hi - lo < 1e-12  # a map of one value: black, as 0..0
    scaled = np.where(flat, 0, (stack - lo) / np.where(flat, 1, hi - lo))  # (N, H, W), 0..1
    cells = np.full((rows * columns, h * k + gap, w * k + gap), 255, np.uint8)  # each cell with its gap after it
    cells[:n, :h * k, :w * k] = (scaled * 255).astype(np.uint8).repeat(k, axis=1).repeat(k, axis=2)
    grid = cells.reshape(rows, columns, h * k + gap, w * k + gap).transpose(0, 2, 1, 3)
    return grid.reshape(rows * (h * k + gap), columns * (w * k + gap))[:-gap or None, :-gap or None]


def window_on(values: np.ndarray, top: int, left: int, size: int, cell: int = 10) -> np.ndarray:
    """A map (H, W) as a grey picture, scaled to its own range, with a vermillion square around
    the window an output number reads: (H·cell, W·cell, 3) uint8. A picture, not a chart: the
    stepper redraws it on every step, and an image is the quickest thing a browser shows."""
    lo, hi = float(values.min()), float(values.max())
    grey = np.zeros_like(values, dtype=np.float32) if hi - lo < 1e-12 else (values - lo) / (hi - lo)
    out = np.repeat(enlarge((grey * 255).astype(np.uint8), cell * max(values.shape))[..., None], 3, axis=2)
    y0, x0, y1, x1 = top * cell, left * cell, (top + size) * cell - 1, (left + size) * cell - 1
    edge = np.array(_rgb(VERMILLION), np.uint8)
    for i in range(2):  # a 2 px outline, inside the window
        out[y0 + i, x0:x1 + 1] = out[y1 - i, x0:x1 + 1] = edge
        out[y0:y1 + 1, x0 + i] = out[y0:y1 + 1, x1 - i] = edge
    return out


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


# Plasma, sampled at 256 levels: dark blue-purple to yellow, evenly bright from step to step and
# readable with any common colour-vision deficiency (unlike red-to-yellow, which deuteranopes
# see as one colour).
_HEAT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(px.colors.sequential.Plasma)),
                            [_rgb(c)[k] for c in px.colors.sequential.Plasma]) for k in range(3)], axis=1)


def heat_overlay(image: np.ndarray, heat: np.ndarray, size: int = 196) -> np.ndarray:
    """A 28×28 uint8 drawing in grey with `heat` (28×28, ≥ 0) laid over it in plasma colours:
    the stronger the heat, the brighter and the more it covers. Returns (size, size, 3) uint8,
    square pixels."""
    peak = float(heat.max())
    h = np.clip(heat / peak, 0, 1) if peak > 0 else np.zeros_like(heat, dtype=float)
    grey = np.repeat(image[..., None].astype(float) * 0.6, 3, axis=2)
    hot = _HEAT[np.round(h * 255).astype(int)]  # (28, 28, 3)
    mixed = grey * (1 - h[..., None]) + hot * h[..., None]
    k = max(1, size // image.shape[0])
    return np.kron(mixed.astype(np.uint8), np.ones((k, k, 1), np.uint8))
