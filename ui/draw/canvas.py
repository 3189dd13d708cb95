"""The logic behind the Draw page, as plain functions (the canvas itself can't run in AppTest)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from lenet.ink import load_image
from lenet.preprocess import NoDigitError, Preprocessed, to_mnist

__all__ = ["TOOLBAR_ABOVE_CANVAS", "Sources", "enlarge", "read_canvas", "read_upload", "strokes", "tile"]

# The canvas component keeps its toolbar (undo, redo, clear) invisible until hovered, resting over
# the top right of the drawing area, where it swallowed the first stroke of a digit drawn there.
# The component lives in a shadow root that page CSS can't reach, so this script gives that root
# a style: the toolbar always visible, above the canvas, with room made for it. (st.html runs it.)
TOOLBAR_ABOVE_CANVAS = """<script>
(() => {
  const css = ".dc-root{margin-top:2.9rem}" +
    ".dc-toolbar,.dc-root:hover>.dc-toolbar{opacity:1!important;top:-2.9rem!important}";
  // Clear mounts a new canvas whose shadow root fills in after its host is added: watch inside
  // every shadow root too, not only the page's own tree.
  const watched = window.__lenetWatched = window.__lenetWatched || new WeakSet();
  const fix = () => document.querySelectorAll("*").forEach(host => {
    const root = host.shadowRoot;
    if (!root) return;
    if (!watched.has(root)) {
      watched.add(root);
      new MutationObserver(fix).observe(root, {childList: true, subtree: true});
    }
    if (root.querySelector(".dc-toolbar") && !root.querySelector("style[data-lenet]")) {
      const style = document.createElement("style");
      style.dataset.lenet = "1";
      style.textContent = css;
      root.appendChild(style);
    }
  });
  fix();
  if (!window.__lenetToolbar) {
    window.__lenetToolbar = new MutationObserver(fix);
    window.__lenetToolbar.observe(document.body, {childList: true, subtree: true});
    // A shadow root attached to a host already in the page fires no mutation the observers
    // see; on a quiet page nothing else would call fix(), so look again now and then.
    setInterval(fix, 400);
  }
})();
</script>"""


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


def enlarge(image: np.ndarray, size: int = 140) -> np.ndarray:
    """Blow a small uint8 image up with square pixels (no blur), so 28×28 stays readable."""
    h, w = image.shape
    k = max(1, size // max(h, w))
    return np.kron(image, np.ones((k, k), np.uint8))


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
