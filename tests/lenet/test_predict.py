"""classify: one function from a picture or a tensor to the model's answer."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from lenet.checkpoints import load_model
from lenet.data import normalise
from lenet.files import CHECKPOINT_DIR
from lenet.predict import classify
from lenet.preprocess import NoDigitError, to_mnist
from lenet.registry import build_model


@pytest.fixture(scope="module")
def lenet5() -> torch.nn.Module:
    return load_model(CHECKPOINT_DIR / "lenet5.pt")[0]


def test_the_answer_is_the_models_own_softmax(lenet5, digits):
    images, labels = digits
    x = normalise(torch.from_numpy(images[:20]))  # (20, 1, 28, 28)
    for i in range(20):
        with torch.no_grad():
            expected = torch.softmax(lenet5(x[i:i + 1]), 1)[0]  # one image at a time, as classify runs it
        answer = classify(lenet5, x[i])
        assert answer.probs == expected.tolist() and answer.steps is None
        assert answer.digit == int(expected.argmax()) and answer.confidence == max(answer.probs)
    assert sum(classify(lenet5, x[i]).digit == labels[i] for i in range(20)) >= 19


def test_a_picture_is_preprocessed_and_its_steps_kept(lenet5):
    image = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(image).line([(140, 40), (140, 240)], fill=255, width=18)
    canvas = np.dstack([np.asarray(image)] * 3 + [np.full((280, 280), 255, np.uint8)])  # the canvas's RGBA
    answer = classify(lenet5, canvas)
    assert answer.digit == 1 and answer.steps is not None and answer.steps.centred.shape == (28, 28)
    assert abs(sum(answer.probs) - 1) < 1e-5
    assert classify(lenet5, to_mnist(canvas)).probs == answer.probs  # a Preprocessed result: the same answer
    assert classify(lenet5, answer.steps.tensor).probs == answer.probs


def test_bad_inputs_are_explained(lenet5):
    with pytest.raises(NoDigitError):
        classify(lenet5, np.zeros((280, 280), np.uint8))
    with pytest.raises(ValueError, match="one 28×28 image"):
        classify(lenet5, torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="eval mode"):
        classify(build_model("lenet5"), torch.zeros(1, 1, 28, 28))  # a fresh model trains; classify never switches it
