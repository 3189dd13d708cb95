"""The off-distribution score and its digit-like flag, on the real MNIST and the shipped models:
about 95% of test digits pass, noise is caught, the CLI reports both, and the shared model is
only read."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from harness.synth import as_file, noise_pictures
from lenet.checkpoints import load_checkpoint, load_model
from lenet.data import normalise, pixels
from lenet.files import CHECKPOINT_DIR
from lenet.ink import ImageError, load_image
from lenet.inside import nondigits
from lenet.inside.ood import (
    PASS,
    _typicality,
    calibration_for,
    held_out,
    judge,
    of_checkpoint,
    off_scores,
    read_and_judge,
)
from lenet.predict import classify
from lenet.preprocess import NoDigitError, to_mnist
from tests.conftest import at_once, lenet

MODELS = ("lenet5", "lenet5-classic", "mlp")


def test_typicality_is_the_share_of_reference_values_at_most_each():
    reference = torch.tensor([0.1, 0.2, 0.2, 0.5], dtype=torch.float64)
    got = _typicality(reference, torch.tensor([0.0, 0.2, 0.3, 0.9], dtype=torch.float64))
    assert got.tolist() == [0.0, 0.75, 0.75, 1.0]


def test_the_generated_non_digits_are_fixed_by_their_seed_and_shaped_like_mnist():
    assert np.array_equal(nondigits.noise(3, seed=1), nondigits.noise(3, seed=1))
    assert np.array_equal(nondigits.strokes(2, seed=4), nondigits.strokes(2, seed=4))
    for images, n in ((nondigits.letters("aileron"), 26), (nondigits.letters("dejavu-serif", "AB"), 2),
                      (nondigits.strokes(3), 3), (nondigits.noise(5), 5)):
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8 and images.max() > 200
    with pytest.raises(ValueError, match="unknown font"):
        nondigits.font("comic")


@pytest.fixture(scope="module")
def calibrated(mnist):
    return {name: (model := load_model(CHECKPOINT_DIR / f"{name}.pt")[0], calibration_for(model, mnist))
            for name in MODELS}


def _caught(name: str, calibrated, images: np.ndarray) -> float:
    model, cal = calibrated[name]
    return float((off_scores(cal, model, normalise(torch.from_numpy(images))) >= cal.threshold).double().mean())


@pytest.mark.mnist
@pytest.mark.parametrize("name", MODELS)
def test_about_95_percent_of_test_digits_pass_and_noise_is_caught(name, calibrated, mnist):
    model, cal = calibrated[name]
    even, odd = held_out(mnist)
    passed = {split: float((off_scores(cal, model, s.x) < cal.threshold).double().mean())
              for split, s in (("even", even), ("odd", odd), ("test", mnist.test))}
    assert PASS <= passed["even"] < PASS + 0.03  # calibrated there, ink measured as a picture greys it: a bit more pass
    assert passed["odd"] >= 0.93 and passed["test"] >= 0.93  # measured on digits it wasn't calibrated on
    noise = _caught(name, calibrated, nondigits.noise(500))
    assert noise >= 0.9, noise
    letters = [_caught(name, calibrated, nondigits.letters(font)) for font in nondigits.FONTS]
    strokes = _caught(name, calibrated, nondigits.strokes(200))
    print(f"{name}: pass {passed}, noise {noise:.1%}, letters {letters}, strokes {strokes:.1%}")
    assert min(letters) > 0.3 and strokes > 0.5  # far better than the 5% a digit is flagged at


@pytest.mark.mnist
def test_judging_reads_the_shared_model_without_changing_it(calibrated, mnist):
    model, cal = calibrated["lenet5"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = mnist.test.x[:64]
    alone = judge(cal, model, x)
    assert all(r == alone for r in at_once(lambda: judge(cal, model, x)))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and not model.training
    assert judge(cal, model, x[0, 0]) == alone[:1]  # one (28, 28) input is judged as a batch of one


@pytest.mark.process
@pytest.mark.mnist
def test_predict_reports_the_score_and_the_flag(tmp_path, mnist):
    letter, digit = tmp_path / "letter-x.png", tmp_path / "seven.png"
    Image.fromarray(nondigits.letters("dejavu-serif", "x")[0]).save(letter)
    Image.fromarray(255 - (mnist.test.x[0, 0] * 0.3081 + 0.1307).mul(255).round().byte().numpy()).save(digit)
    lines = [json.loads(line) for line in lenet("predict", "--json", str(letter), str(digit)).stdout.splitlines()]
    assert [a["digit_like"] for a in lines] == [False, True]
    assert all(0 <= a["ood_score"] <= 1 for a in lines) and lines[0]["ood_score"] > lines[1]["ood_score"]
    text = lenet("predict", str(letter)).stdout
    assert "doesn't look like a digit" in text and "off-distribution score" in text


@pytest.mark.mnist
@pytest.mark.parametrize("name", MODELS)
def test_each_shipped_checkpoint_carries_its_calibration(name, calibrated):
    # failed at 95003f1: no shipped checkpoint had one; Draw and `lenet predict` needed MNIST to flag noise
    saved = of_checkpoint(load_checkpoint(CHECKPOINT_DIR / f"{name}.pt"))
    made = calibrated[name][1]
    assert saved is not None and saved.threshold == made.threshold
    # within 1e-4 of each tensor's largest entry, not bit for bit: float32 convolutions round differently on
    # another CPU (AVX2 here, AVX-512 where they were made), and inverting the covariance magnifies it (1e-3 relative)
    for k in ("means", "precision", "sure", "near"):
        ours, shipped = getattr(made, k), getattr(saved, k)
        assert (ours - shipped).abs().max() <= 1e-4 * shipped.abs().max(), k


def test_a_damaged_calibration_is_none_never_an_error():
    good = {"means": torch.zeros(10, 4, dtype=torch.float64), "precision": torch.eye(4, dtype=torch.float64),
            "sure": torch.zeros(6, dtype=torch.float64), "near": torch.zeros(6, dtype=torch.float64), "threshold": 0.5}
    assert of_checkpoint({"calibration": good}) is not None
    for bad in (None, "x", good | {"threshold": "0.5"}, good | {"means": torch.zeros(9, 4, dtype=torch.float64)},
                good | {"precision": torch.eye(4)}, good | {"near": torch.zeros(5, dtype=torch.float64)},
                {k: v for k, v in good.items() if k != "sure"}):
        assert of_checkpoint({"calibration": bad}) is None
    assert of_checkpoint({}) is None


def _digit_like(model, cal, source) -> bool:
    """As `lenet predict FILE` reads a picture: refused as no digit, or judged with the checkpoint's calibration."""
    try:
        reading = classify(model, load_image(source))
    except (ImageError, NoDigitError):
        return False
    return judge(cal, model, reading.steps.tensor)[0].digit_like


@pytest.mark.mnist
@pytest.mark.parametrize("name", MODELS)
def test_on_the_path_a_picture_takes_noise_is_caught_and_digits_pass(name, mnist):
    # failed at 95003f1: noise PNGs through `lenet predict` passed as a "1" at 86-92% (lenet5-classic: 68% of
    # 280×280 noise passed), and predict needed MNIST to judge at all
    model, ckpt = load_model(CHECKPOINT_DIR / f"{name}.pt")
    cal = of_checkpoint(ckpt)
    rng = np.random.default_rng(7)
    noise = [f for size in (28, 64, 280) for f in noise_pictures(20, size, rng)]
    caught = 1 - np.mean([_digit_like(model, cal, f) for f in noise])
    odd = pixels(mnist.test.x[1:400:2])  # never calibrated on
    digits = [as_file(Image.fromarray(im).resize((280, 280), Image.Resampling.BILINEAR)) for im in odd]
    passed = np.mean([_digit_like(model, cal, f) for f in digits])
    assert caught >= 0.9 and passed >= 0.93, (caught, passed)


@pytest.mark.parametrize("name", MODELS)
def test_one_pass_gives_the_answer_and_the_flag_that_classify_and_judge_give(name, digits):
    # failed before read_and_judge (this first version): it did not exist, and a stroke ran the model twice
    model, ckpt = load_model(CHECKPOINT_DIR / f"{name}.pt")
    cal = of_checkpoint(ckpt)
    images = digits[0][:40]
    drawings = [to_mnist(np.kron(image, np.ones((4, 4), np.uint8))) for image in images]  # as from a canvas
    noise = np.random.default_rng(0).random((4, 112, 112)) * 256
    drawings += [to_mnist(picture.astype(np.uint8)) for picture in noise]  # what the flag is for
    for drawing in drawings:
        reading, looks = read_and_judge(cal, model, drawing)
        expected = classify(model, drawing)
        assert reading.digit == expected.digit and reading.steps is drawing
        assert np.allclose(reading.probs, expected.probs, rtol=0, atol=1e-6)  # the model's own scores
        assert looks == judge(cal, model, drawing.tensor)[0]
