"""The Draw page's pad: the canvas, Clear and the upload, and reading whichever of drawing and
upload changed last into an MNIST-style input. The canvas's state lives in the session:

    canvas_version  bumped by Clear, which empties the same canvas (its initial drawing changes)
    canvas_json     the strokes it last sent; canvas_initial, what a new mount starts from
    canvas_stale    the strokes it held when Clear was pressed, ignored until it sends its empty picture
    canvas_drawing  the canvas's last reading; drawing, the last reading of either (Explain shows it)
    sources         which of drawing and upload changed last (Sources)

What it holds is read by sources.py's plain functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lenet.ink import MAX_UPLOAD_MB, ImageError
from lenet.preprocess import NoDigitError, Preprocessed
from ui.common import lesson
from ui.common.i18n import Text
from ui.draw.sources import Sources, read_canvas, read_upload, strokes

__all__ = ["PEN", "TOOLBAR_ABOVE_CANVAS", "Read", "clear", "mount", "pad", "read"]

PEN = 18  # the pen's width when the slider is hidden

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


@dataclass(frozen=True)
class Read:
    """What the pad holds now, read."""
    drawing: Preprocessed | None  # the MNIST-style input; None before anything is drawn or uploaded
    raw: np.ndarray | None  # the canvas's RGBA, when the drawing is the canvas's
    source: str | None  # where it came from, in words
    problem: str | None  # an upload that could not be read, and why


def mount() -> None:
    """Before the pad is drawn, on every page run: the session's canvas state, and the script that
    keeps the canvas's toolbar above it. Coming back to the page mounts a new canvas: it starts
    from the strokes it last sent."""
    st.session_state.setdefault("canvas_version", 0)
    st.session_state.setdefault("sources", Sources())
    st.session_state["canvas_initial"] = st.session_state.get("canvas_json")
    st.html(TOOLBAR_ABOVE_CANVAS, unsafe_allow_javascript=True)


def clear() -> None:
    """Clear's callback. The canvas keeps its key: a new key made Streamlit keep the old canvas
    beside the new one whenever the run that drew the new one was cut short (seen with one core
    busy). A changed initial drawing empties the same canvas instead, and it sends back its empty
    picture; until then it still reports the old strokes, which read() ignores."""
    st.session_state.canvas_version += 1
    st.session_state["canvas_stale"] = st.session_state.get("canvas_json")
    for key in ("canvas_json", "canvas_initial", "canvas_drawing", "drawing"):
        st.session_state.pop(key, None)


def pad(t: Text) -> tuple[Any, Any]:
    """The pen, the canvas, Clear and the upload: (the canvas's result, the uploaded file or None)."""
    pen = PEN if lesson.hidden("pen") else st.slider(t("draw.pen"), 6, 40, PEN, key="pen")
    canvas = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000", width=280,
                       height=280, drawing_mode="freedraw", return_image_data=True,
                       initial_drawing=st.session_state.get("canvas_initial")
                       or {"objects": [], "cleared": st.session_state.canvas_version}, key="canvas")
    # A callback, not `if st.button(): clear(); st.rerun()`: the canvas is emptied in the
    # very run the click causes, whatever other run it is merged with (a timed fragment's, a page's).
    st.button(t("draw.clear"), icon=":material/ink_eraser:", key="clear", on_click=clear)
    if lesson.hidden("upload"):
        return canvas, None
    return canvas, st.file_uploader(t("draw.upload", mb=MAX_UPLOAD_MB), type=["png", "jpg", "jpeg"], key="upload")


def read(t: Text, canvas: Any, upload: Any) -> Read:
    """Whichever of the drawing and the upload changed last, read."""
    picture, raw = canvas.json_data, canvas.image_data
    if st.session_state.get("canvas_stale") is not None and picture == st.session_state["canvas_stale"]:
        picture, raw = None, None  # Clear was pressed; the canvas hasn't sent its empty picture yet
    else:
        st.session_state.pop("canvas_stale", None)
    n = strokes(picture)
    if n:
        st.session_state["canvas_json"] = picture
    latest = st.session_state.sources.update(n, upload.file_id if upload is not None else None)
    if latest == "upload":
        return _uploaded(t, upload)
    drawing = read_canvas(raw) if raw is not None else st.session_state.get("canvas_drawing") if n else None
    if drawing is None:
        return Read(drawing=None, raw=None, source=None, problem=None)
    st.session_state["canvas_drawing"] = st.session_state["drawing"] = drawing
    offer_upload = upload is None and not lesson.hidden("upload")
    source = t("draw.source_drawing") + (t("draw.source_or_upload") if offer_upload else "")
    return Read(drawing=drawing, raw=raw, source=source, problem=None)


def _uploaded(t: Text, upload: Any) -> Read:
    try:
        drawing = read_upload(upload.getvalue())
    except (ImageError, NoDigitError) as err:
        problem = t("draw.cant_read", name=upload.name, error=t.error(err))
        return Read(drawing=None, raw=None, source=None, problem=problem)
    st.session_state["drawing"] = drawing  # the Explain page shows this drawing's feature maps
    return Read(drawing=drawing, raw=None, source=t("draw.source_upload", name=upload.name), problem=None)
