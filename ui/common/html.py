"""Small HTML for the pages: grids of numbers, each on its colour, for the convolution stepper."""
from __future__ import annotations

import html

import numpy as np

__all__ = ["numbers"]


def numbers(grids: list[tuple[str, np.ndarray]], fmt: str = "+.2f") -> str:
    """Small grids side by side as an HTML table each, every cell with its number written on it:
    a window of the input, the kernel, their products. Red is positive, blue negative, white
    zero, each grid scaled to its own largest magnitude; the sign is written too, so nothing is
    told by colour alone. HTML, not a chart: the stepper redraws these on every step, and three
    plotly heatmaps of 25 labelled cells took the browser longer than the rest of the view."""
    tables = "".join(f"<figure><figcaption>{html.escape(title)}</figcaption><table>{_rows(grid, fmt)}</table></figure>"
                     for title, grid in grids)
    return f"<style>{NUMBERS_CSS}</style><div class='lenet-numbers'>{tables}</div>"


NUMBERS_CSS = """
.lenet-numbers {display: flex; flex-wrap: wrap; gap: 1.5rem; font-size: 15px; font-variant-numeric: tabular-nums}
.lenet-numbers figure {margin: 0}
.lenet-numbers figcaption {font-weight: 600; margin-bottom: .3rem}
.lenet-numbers table {border-collapse: collapse}
.lenet-numbers td {width: 3.6em; height: 2.2em; text-align: center; border: 1px solid #ddd; padding: 0}
"""


def _rows(grid: np.ndarray, fmt: str) -> str:
    bound = float(np.abs(grid).max()) or 1.0
    return "".join("<tr>" + "".join(_cell(float(v), bound, fmt) for v in row) + "</tr>" for row in grid)


def _cell(value: float, bound: float, fmt: str) -> str:
    """One number on its colour: red for positive, blue for negative, paler towards zero."""
    t = min(1.0, abs(value) / bound)
    r, g, b = (255, 255 - round(155 * t), 255 - round(170 * t)) if value > 0 else \
              (255 - round(190 * t), 255 - round(120 * t), 255)
    ink = "#fff" if t > 0.7 else "#111"
    return f"<td style='background:rgb({r},{g},{b});color:{ink}'>{value:{fmt}}</td>"
