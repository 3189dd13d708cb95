"""The convolution stepper and the softmax steps, checked against the model's own tensors."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from lenet.checkpoints import load_model
from lenet.data import normalise
from lenet.files import ROOT
from lenet.inside.introspect import feature_maps, strongest, trace
from lenet.inside.stepper import STEP_LAYERS, receptive_field, softmax_steps, step
from tests.conftest import at_once

SHAPES = {"conv1": (6, 28, 28), "pool1": (6, 14, 14), "conv2": (16, 10, 10), "pool2": (16, 5, 5)}


@pytest.fixture(scope="module", params=["lenet5", "lenet5-classic"])
def model(request):
    return load_model(ROOT / "checkpoints" / f"{request.param}.pt")[0]


def image(digits, i: int) -> torch.Tensor:
    return normalise(torch.from_numpy(digits[0][i:i + 1]))  # (1, 1, 28, 28)


def test_random_positions_equal_the_models_own_feature_maps(model, digits):
    rng = random.Random(0)
    for i in range(2):
        x = image(digits, i)
        maps = feature_maps(model, x)
        acts = {s.name: s.output[0] for s in trace(model, x)}
        for layer in STEP_LAYERS:
            c, h, w = SHAPES[layer]
            for _ in range(12):
                ch, r, col = rng.randrange(c), rng.randrange(h), rng.randrange(w)
                win = step(model, x, layer, ch, r, col)
                assert win.value == pytest.approx(float(maps[layer][ch, r, col]), abs=1e-5)
                if layer.startswith("pool"):  # and after the activation that follows the pooling
                    after = acts["features.act" + layer[-1]][ch, r, col]
                    assert win.activated == pytest.approx(float(after), abs=1e-5)


def test_conv2_adds_six_input_maps(model, digits):
    x = image(digits, 3)
    win = step(model, x, "conv2", 7, 4, 6)
    assert win.patch.shape == win.kernel.shape == (6, 5, 5)
    assert win.per_map.shape == (6,)
    assert float(win.per_map.sum()) + win.bias == pytest.approx(win.value, abs=1e-9)
    # the patch is the activated pool1 output under the window, not some other tensor
    act1 = {s.name: s.output for s in trace(model, x)}["features.act1"][0]
    assert torch.allclose(win.patch.float(), act1[:, 4:9, 6:11])


def test_conv1_reads_the_padded_image_and_its_own_kernel(model, digits):
    x = image(digits, 0)
    win = step(model, x, "conv1", 2, 0, 0)
    assert win.inputs.shape == (1, 32, 32)
    weight = dict(model.named_modules())["features.conv1"].weight[2]
    assert torch.equal(win.kernel.float(), weight)
    assert torch.allclose(win.patch.float(), F.pad(x[0], (2, 2, 2, 2), value=float(win.inputs[0, 0, 0]))[:, :5, :5])


def test_pooling_window_is_the_2x2_block_it_reduces(model, digits):
    x = image(digits, 1)
    win = step(model, x, "pool1", 3, 5, 9)
    conv1 = feature_maps(model, x)["conv1"]
    assert torch.allclose(win.patch[0].float(), conv1[3, 10:12, 18:20])
    assert win.op == ("max" if win.activation == "ReLU" else "avg")


def test_receptive_fields_grow_layer_by_layer():
    assert receptive_field("conv1", 0, 0) == (0, 0, 5)
    assert receptive_field("pool1", 3, 4) == (6, 8, 6)
    assert receptive_field("conv2", 2, 1) == (4, 2, 14)
    assert receptive_field("pool2", 4, 4) == (16, 16, 16)  # the last pool2 output ends at the image's edge


def test_bad_positions_and_models_say_why(model, digits):
    x = image(digits, 0)
    with pytest.raises(IndexError, match="10×10"):
        step(model, x, "conv2", 0, 10, 0)
    mlp = load_model(ROOT / "checkpoints" / "mlp.pt")[0]
    with pytest.raises(KeyError, match="no conv1"):
        step(mlp, x, "conv1", 0, 0, 0)


def test_softmax_steps_are_the_models_probabilities_and_loss(model, digits):
    for i in range(10):
        x = image(digits, i)
        label = int(digits[1][i])
        with torch.no_grad():
            logits = model(x)[0]
        steps = softmax_steps(model, x, label)
        assert torch.allclose(torch.tensor(steps.logits, dtype=torch.float32), logits, atol=1e-5)
        assert torch.allclose(torch.tensor(steps.probs, dtype=torch.float64), F.softmax(logits.double(), 0), atol=1e-6)
        expected = F.cross_entropy(logits[None].double(), torch.tensor([label]))
        assert steps.loss == pytest.approx(float(expected), abs=1e-6)
        assert sum(steps.probs) == pytest.approx(1.0)


def test_stepping_from_threads_leaves_the_shared_model_alone(model, digits):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = image(digits, 2)
    expected = step(model, x, "conv2", 5, 3, 3).value
    results = at_once(lambda: [step(model, x, "conv2", 5, 3, 3).value for _ in range(20)])
    assert [v for values in results for v in values] == [expected] * 80
    assert not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_strongest_images_peak_highest_in_their_channel(model, digits):
    x = normalise(torch.from_numpy(digits[0]))  # (100, 1, 28, 28)
    indices, values = strongest(model, x, "conv2", k=5)
    assert indices.shape == values.shape == (16, 5)
    peaks = torch.stack([feature_maps(model, x[i:i + 1])["conv2"].amax(dim=(1, 2)) for i in range(100)])  # (100, 16)
    for c in range(16):
        assert torch.allclose(values[c], peaks[indices[c], c], atol=1e-5)
        assert float(values[c, -1]) >= float(peaks[:, c].sort(descending=True).values[4]) - 1e-5
