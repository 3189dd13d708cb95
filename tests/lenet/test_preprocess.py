"""MNIST's recipe (preprocess.py) and finding the ink (ink.py), on known answers and real digits."""
import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from lenet.checkpoints import load_model
from lenet.data import MEAN, STD
from lenet.files import CHECKPOINT_DIR
from lenet.ink import MAX_UPLOAD_BYTES, ImageError, load_image
from lenet.predict import classify
from lenet.preprocess import NoDigitError, naive_resize, to_mnist


def canvas_with(draw_fn, size=(280, 280)) -> np.ndarray:
    """An RGBA canvas like the Draw page's: white strokes on opaque black."""
    image = Image.new("L", size, 0)
    draw_fn(ImageDraw.Draw(image))
    v = np.asarray(image)
    return np.dstack([v, v, v, np.full_like(v, 255)])


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    a = a.astype(np.float64)
    ys, xs = np.indices(a.shape)
    return float((a * ys).sum() / a.sum()), float((a * xs).sum() / a.sum())


def png(image: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **save)
    return buf.getvalue()


def test_off_centre_stroke_comes_out_centred_and_fitted_to_20px():
    # A tall bar in the top-left corner of the canvas: known answer, 20 px tall, COM at (14, 14).
    rgba = canvas_with(lambda d: d.rectangle([10, 5, 40, 125], fill=255))
    out = to_mnist(rgba)
    ys, xs = np.nonzero(out.centred > 64)
    assert ys.max() - ys.min() + 1 == 20  # the long side fills the 20-pixel box
    assert 4 <= xs.max() - xs.min() + 1 <= 6  # aspect ratio kept: 31×121 -> 5×20
    cy, cx = centre_of_mass(out.centred)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert out.tensor.shape == (1, 1, 28, 28)
    assert out.cropped.shape == (121, 31) and out.fitted.shape == (20, 20)
    # the tensor is the centred image, normalised as MNIST
    assert torch.allclose(out.tensor[0, 0], (torch.from_numpy(out.centred).float() / 255 - MEAN) / STD, atol=3e-3 / STD)


def test_polarity_and_alpha_give_the_same_digit():
    draw = lambda d: d.line([(60, 60), (200, 80), (120, 230)], fill=255, width=18)  # noqa: E731
    light_on_dark = canvas_with(draw)[:, :, 0]
    dark_on_light = 255 - light_on_dark
    transparent = np.zeros((280, 280, 4), np.uint8)
    transparent[:, :, 3] = light_on_dark  # black ink whose opacity is the stroke
    outs = [to_mnist(a).centred.astype(int) for a in (light_on_dark, dark_on_light, transparent)]
    assert outs[0].sum() > 0
    for other in outs[1:]:
        assert np.abs(outs[0] - other).max() <= 2


def test_noisy_paper_photo_with_uneven_light_is_cleaned():
    rng = np.random.default_rng(0)
    ring = canvas_with(lambda d: d.ellipse([150, 150, 260, 330], outline=255, width=14), (400, 480))
    ink = np.asarray(ring[:, :, 0]) / 255
    yy = np.linspace(0, 1, 480)[:, None]
    paper = 0.75 + 0.15 * yy  # light falls off down the page
    photo = paper * (1 - ink) + 0.2 * ink + rng.normal(0, 0.04, ink.shape)
    out = to_mnist(Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8)))
    clean = to_mnist(ring)
    assert (out.centred[:3] == 0).all() and (out.centred[:, :3] == 0).all()  # no paper left in the margins
    assert all(abs(a - b) <= 2 for a, b in zip(out.cropped.shape, clean.cropped.shape, strict=True))
    assert all(abs(c - 14) <= 0.5 for c in centre_of_mass(out.centred))
    inside = out.centred[10:18, 12:16]  # the hole of the ring: paper, so no ink
    assert inside.max() < 40
    # the same ring as the clean canvas, give or take the 1-px rounding of the centring
    best = max(np.corrcoef(np.roll(out.centred, (dy, dx), (0, 1)).ravel(), clean.centred.ravel())[0, 1]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    assert best > 0.9


@pytest.mark.parametrize("image", [
    np.zeros((280, 280, 4), np.uint8),  # empty transparent canvas
    np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)]),  # empty black canvas
    np.full((300, 200), 240, np.uint8),  # blank white paper
    (np.random.default_rng(1).normal(200, 6, (300, 300))).clip(0, 255).astype(np.uint8),  # noisy blank paper
])
def test_an_image_without_ink_is_rejected_not_guessed(image):
    with pytest.raises(NoDigitError, match="no digit found"):
        to_mnist(image)
    with pytest.raises(NoDigitError):
        naive_resize(image)


def test_mnist_digits_survive_preprocessing(digits):
    """MNIST is already made this way, so preprocessing one of its digits changes it very little."""
    images, _ = digits
    for image in images[:30]:
        big = np.asarray(Image.fromarray(image).resize((280, 280), Image.Resampling.BILINEAR))
        out = to_mnist(big).centred.astype(np.float64)
        ref = image.astype(np.float64)
        assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] > 0.8


def test_file_formats_all_load(tmp_path, digits):
    digit = Image.fromarray(np.asarray(Image.fromarray(digits[0][0]).resize((112, 112))))  # a 7
    gray16 = Image.fromarray((np.asarray(digit, np.uint16) * 257).astype(np.uint16))
    palette = digit.convert("P")
    la = Image.merge("LA", [Image.new("L", digit.size, 0), digit])
    files = {"gray16.png": png(gray16), "palette.png": png(palette), "la.png": png(la),
             "rgba.png": png(digit.convert("RGBA"))}
    jpeg = io.BytesIO()
    Image.fromarray(255 - np.asarray(digit)).convert("RGB").save(jpeg, "JPEG", quality=85)
    files["paper.jpg"] = jpeg.getvalue()
    reference = to_mnist(np.asarray(digit)).centred.astype(int)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        image = load_image(tmp_path / name)
        assert np.abs(to_mnist(image).centred.astype(int) - reference).mean() < 8, name


def test_bad_uploads_get_clear_errors(tmp_path):
    with pytest.raises(ImageError, match="over 10 MB"):
        load_image(b"\x89PNG" + b"\0" * (10 * 2**20 + 1))
    with pytest.raises(ImageError, match="not an image"):
        load_image(b"%PDF-1.4 this is not a picture")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(png(Image.new("L", (64, 64), 128))[:60])
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_decompression_bomb_is_refused_before_decoding():
    # A valid PNG header claiming 20000×20000 pixels, with a tiny compressed body.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 1, 0, 0, 0, 0))
    body = chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    bomb = b"\x89PNG\r\n\x1a\n" + header + body + chunk(b"IEND", b"")
    assert len(bomb) < 2000
    with pytest.raises(ImageError, match="decompression bomb|too large"):
        load_image(bomb)


def test_arrays_of_unusual_shape_or_type_are_explained():
    with pytest.raises(ImageError, match="shape"):
        to_mnist(np.zeros((5, 5, 2), np.uint8))
    with pytest.raises(ImageError, match="dtype"):
        to_mnist(np.zeros((5, 5), np.complex64))


def test_naive_resize_keeps_the_whole_canvas():
    rgba = canvas_with(lambda d: d.rectangle([10, 5, 40, 125], fill=255))
    naive = naive_resize(rgba)
    assert naive.centred.shape == (28, 28)
    cy, cx = centre_of_mass(naive.centred)
    assert cy < 8 and cx < 4  # still in the corner: nothing cropped or centred


def test_a_48_megapixel_phone_photo_is_read_and_its_digit_found(digits):
    # failed at 95003f1: a 0.8 MB photo of 8000×6000 pixels was refused as a decompression bomb
    images, labels = digits
    photo = Image.new("L", (8000, 6000), 225)  # white paper
    digit = Image.fromarray(255 - images[0]).resize((2400, 2400), Image.Resampling.BILINEAR)  # dark ink, 2400 px
    photo.paste(digit, (2800, 1800))
    buf = io.BytesIO()
    photo.convert("RGB").save(buf, "JPEG", quality=80)
    assert len(buf.getvalue()) < MAX_UPLOAD_BYTES
    read = load_image(buf.getvalue())
    assert max(read.size) <= 2048  # decoded small: the memory a 3 MP picture takes, not 48 MP's
    assert classify(load_model(CHECKPOINT_DIR / "lenet5.pt")[0], read).digit == labels[0]
