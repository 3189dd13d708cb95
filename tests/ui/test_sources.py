"""The plain logic behind the Draw page (ui/draw/canvas.py): which source is read, tiles, and reading a
canvas or an upload with the shipped lenet5."""
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lenet.checkpoints import load_model
from lenet.files import CHECKPOINT_DIR
from lenet.ink import ImageError
from lenet.predict import classify
from lenet.preprocess import NoDigitError
from ui.common.images import tile
from ui.draw.sources import Sources, read_canvas, read_upload


def test_whichever_came_last_is_read():
    s = Sources()
    assert s.update(strokes=0, upload=None) is None
    assert s.update(strokes=2, upload=None) == "drawing"
    assert s.update(strokes=2, upload="file-1") == "upload"  # a new upload wins…
    assert s.update(strokes=3, upload="file-1") == "drawing"  # …until the next stroke
    assert s.update(strokes=3, upload="file-2") == "upload"
    assert s.update(strokes=3, upload=None) == "drawing"  # upload removed: back to the drawing
    assert s.update(strokes=0, upload=None) is None  # canvas cleared


def test_tiles_keep_the_aspect_ratio_in_a_fixed_size():
    thin = np.zeros((500, 12), np.uint8)
    thin[:, 4:8] = 255
    out = tile(thin, size=160)
    assert out.shape[:2] == (160, 160)
    ink_cols = np.nonzero(out.reshape(160, 160, -1).max(axis=(0, 2)) > 128)[0]
    assert len(ink_cols) <= 4  # a thin tall stroke stays thin: not stretched to a square


def canvas_digit(draw) -> np.ndarray:
    image = Image.new("L", (280, 280), 0)
    draw(ImageDraw.Draw(image))
    v = np.asarray(image)
    return np.dstack([v, v, v, np.full_like(v, 255)])


def test_draw_logic_reads_a_canvas_and_an_upload():
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    one = canvas_digit(lambda d: d.line([(140, 40), (140, 240)], fill=255, width=18))
    reading = classify(model, read_canvas(one))
    assert reading.digit == 1 and reading.confidence > 0.5 and abs(sum(reading.probs) - 1) < 1e-5
    assert read_canvas(None) is None
    assert read_canvas(np.zeros((280, 280, 4), np.uint8)) is None  # empty canvas: a prompt, not a guess
    seven = canvas_digit(lambda d: d.line([(60, 50), (220, 50), (110, 240)], fill=255, width=20))
    buf = io.BytesIO()
    Image.fromarray(255 - seven[:, :, 0]).save(buf, "PNG")  # dark ink on white paper
    assert classify(model, read_upload(buf.getvalue())).digit == 7
    with pytest.raises(ImageError):
        read_upload(b"this is not a picture")
    with pytest.raises(NoDigitError):
        blank = io.BytesIO()
        Image.new("L", (50, 50), 255).save(blank, "PNG")
        read_upload(blank.getvalue())
