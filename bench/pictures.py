"""The digit-like flag on the path a picture takes: image files read, preprocessed by to_mnist and
judged with each shipped checkpoint's own calibration, exactly as `lenet predict` does. The
rates of bench/ood.py are on 28×28 tensors; a picture meets to_mnist first, which crops, fits and
centres whatever it finds, and noise comes out of it looking quite unlike noise.

    python -m bench.pictures [--n 100] [--digits 600]

"caught" is the share of a set refused as no digit or flagged as not digit-like; "passed" is the
share of MNIST test digits read and judged digit-like: the odd-numbered ones (never calibrated
on) as 280×280 PNGs, and digits redrawn as canvas, paper-photo and transparent pictures with
thin to thick strokes (harness/synth.py).
"""
from __future__ import annotations

import argparse
import io

import numpy as np
from PIL import Image, ImageDraw

from harness.synth import as_file, drawings, noise_pictures
from lenet.checkpoints import load_model
from lenet.data import load_mnist, pixels
from lenet.files import CHECKPOINT_DIR
from lenet.ink import ImageError, load_image
from lenet.inside import nondigits
from lenet.inside.ood import judge, of_checkpoint
from lenet.predict import classify
from lenet.preprocess import NoDigitError

MODELS = ("lenet5", "lenet5-classic", "mlp")


def scribbles(n: int, rng: np.random.Generator) -> list[io.BytesIO]:
    """Random pen paths of 3 to 7 points, white on the black 280×280 canvas, as PNGs."""
    out = []
    for _ in range(n):
        canvas = Image.new("L", (nondigits.CANVAS, nondigits.CANVAS), 0)
        points = [tuple(rng.uniform(20, nondigits.CANVAS - 20, 2)) for _ in range(rng.integers(3, 8))]
        ImageDraw.Draw(canvas).line(points, fill=255, width=nondigits.PEN, joint="curve")
        out.append(as_file(canvas))
    return out


def letters() -> list[io.BytesIO]:
    """A-Z in both fonts, dark on white paper, 280×280 PNGs."""
    out = []
    for name in nondigits.FONTS:
        for ch in nondigits.LETTERS:
            page = Image.new("L", (nondigits.CANVAS, nondigits.CANVAS), 235)
            ImageDraw.Draw(page).text((140, 140), ch, fill=30, font=nondigits.font(name), anchor="mm")
            out.append(as_file(page))
    return out


def paper(n: int, rng: np.random.Generator) -> list[io.BytesIO]:
    """Phone photos of blank paper: uneven light and sensor noise, no ink, JPEGs."""
    out = []
    for _ in range(n):
        h, w = int(rng.integers(240, 600)), int(rng.integers(240, 600))
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        light = rng.uniform(0.75, 0.95) + rng.uniform(-0.15, 0.15) * (yy - 0.5) + rng.uniform(-0.15, 0.15) * (xx - 0.5)
        gray = np.clip(light + rng.normal(0, rng.uniform(0.01, 0.05), (h, w)), 0, 1)
        out.append(as_file(Image.fromarray((gray * 255).astype(np.uint8)).convert("RGB"), "JPEG"))
    return out


def rates(name: str, sets: dict[str, list], plain: list, digits: list) -> dict[str, float]:
    """For one shipped model: the share caught of each set, and of MNIST pictures passed."""
    model, ckpt = load_model(CHECKPOINT_DIR / f"{name}.pt")
    cal = of_checkpoint(ckpt)

    def digit_like(source) -> bool:
        """A file is read as `lenet predict` reads it; a canvas (an array) or a picture as Draw reads it."""
        if hasattr(source, "seek"):
            source.seek(0)
        try:
            reading = classify(model, load_image(source) if hasattr(source, "read") else source)
        except (ImageError, NoDigitError):
            return False
        return judge(cal, model, reading.steps.tensor)[0].digit_like

    found = {f"{k} caught": 1 - float(np.mean([digit_like(s) for s in v])) for k, v in sets.items()}
    return found | {"MNIST digits as PNGs passed": float(np.mean([digit_like(f) for f in plain])),
                    "MNIST drawn as pictures passed": float(np.mean([digit_like(d.image) for d in digits]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="pictures in each generated set (default 100)")
    parser.add_argument("--digits", type=int, default=600, help="MNIST test digits drawn as pictures (default 600)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sets = {f"noise {s}×{s}": noise_pictures(args.n, s, rng) for s in (28, 64, 280)}
    sets |= {"scribbles": scribbles(args.n, rng), "letters A-Z": letters(), "blank paper": paper(args.n, rng)}
    test = load_mnist().test
    images = pixels(test.x)
    digits = drawings(images, test.y.numpy(), range(len(test.y)), args.digits, seed=0)
    plain = [as_file(Image.fromarray(images[i]).resize((280, 280), Image.Resampling.BILINEAR))
             for i in range(1, 2 * args.digits, 2)]  # the odd test digits: the calibration never saw them
    table = {name: rates(name, sets, plain, digits) for name in MODELS}
    columns = list(next(iter(table.values())))
    print("| model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, found in table.items():
        print(f"| {name} | " + " | ".join(f"{found[c]:.1%}" for c in columns) + " |")


if __name__ == "__main__":
    main()
