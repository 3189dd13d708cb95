"""Introspection reads a model without changing it, and gives the model's own numbers."""
import itertools
import random

import pytest
import torch
import torch.nn.functional as F

from lenet.checkpoints import load_model
from lenet.data import normalise
from lenet.files import CHECKPOINT_DIR
from lenet.inside.introspect import describe, feature_maps, filters, flatten_size, layer_table, lenet_walk, sides, trace
from lenet.predict import classify
from lenet.registry import MODELS, build_model
from lenet.shapes import output_size, size_formula
from tests.conftest import at_once


@pytest.mark.parametrize("name, options",
                         [(n, {}) for n in MODELS] + [("lenet5", {"activation": "tanh", "pool": "avg"})])
def test_trace_is_the_models_own_forward_pass(name, options):
    """trace runs the declared layers in order; that is forward, exactly, for every model."""
    model = build_model(name, **options).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(trace(model, x)[-1].output, model(x))


def test_layer_table_walks_lenet_shapes():
    rows = layer_table(build_model("lenet5"))
    assert len(rows) == 13
    assert sides(rows) == [32, 28, 14, 10, 5] and flatten_size(rows) == 400
    conv1 = next(r for r in rows if r.name == "features.conv1")
    assert conv1.formula == "(32 + 2·0 − 5)/1 + 1 = 28" and conv1.params == 6 * 25 + 6
    assert rows[-1].out_shape == (10,)
    assert sum(r.params for r in rows) == 61_706


def test_output_size_formula_flags_non_integer_sizes():
    assert output_size(32, 5) == 28 and output_size(28, 2, s=2) == 14
    assert output_size(28, 5, p=2) == 28  # "same" padding
    assert "rounded down" in size_formula(27, 2, 0, 2)


def test_flatten_walk_breaks_when_the_input_changes():
    stages, flat = lenet_walk(28, 5)
    assert [s[2] for s in stages] == [32, 28, 14, 10, 5] and flat == 400
    assert lenet_walk(32, 5)[1] == 16 * 6 * 6
    assert lenet_walk(28, 3)[1] == 16 * 6 * 6
    assert lenet_walk(8, 9)[1] == 0


def test_feature_maps_are_the_convolutions_of_the_input(digits):
    """conv1's maps are conv2d of the padded image with conv1's weights; pool1 is their max-pool."""
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    x = normalise(torch.from_numpy(digits[0][:1]))  # (1, 1, 28, 28)
    maps = feature_maps(model, x)
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "conv1": (6, 28, 28), "pool1": (6, 14, 14), "conv2": (16, 10, 10), "pool2": (16, 5, 5)}
    conv1 = model.features.conv1
    expected = F.conv2d(model.features.pad(x), conv1.weight, conv1.bias)[0]
    assert torch.allclose(maps["conv1"], expected, atol=1e-6)
    assert torch.equal(maps["pool1"], F.max_pool2d(maps["conv1"], 2))
    with pytest.raises(KeyError, match="no convolution"):
        feature_maps(build_model("mlp").eval(), x)


def test_filters_are_copies_of_the_weights():
    model = build_model("lenet5")
    kernels = filters(model)
    assert {k: tuple(v.shape) for k, v in kernels.items()} == {"conv1": (6, 1, 5, 5), "conv2": (16, 6, 5, 5)}
    kernels["conv1"].zero_()
    assert model.features.conv1.weight.abs().sum() > 0


def snapshot(model: torch.nn.Module) -> dict:
    """Everything about a model that a reader must leave alone."""
    return {"state": {k: v.clone() for k, v in model.state_dict().items()},
            "pointers": [p.data_ptr() for p in model.parameters()],
            "modes": [m.training for m in model.modules()],
            "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())}


def test_one_shared_model_serves_many_threads_exactly(digits):
    """Six threads at once run layer_table, feature_maps and classify on one loaded model, as
    browser sessions and the training thread do. Every result equals the one computed alone,
    and the model is unchanged afterwards. (With hooks on the shared model, layer_table used to
    return 13 to 77 rows here.)"""
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    before = snapshot(model)
    images, _ = digits
    xs = [normalise(torch.from_numpy(images[i:i + 1])) for i in range(12)]
    canvases = [images[i] for i in range(12)]  # (28, 28) uint8 pictures: classify preprocesses them
    expected_rows = layer_table(model)
    expected_maps = [feature_maps(model, x) for x in xs]
    expected_answers = [classify(model, c).probs for c in canvases]
    seeds = itertools.count()

    def worker() -> list[str]:
        rng, errors = random.Random(next(seeds)), []
        for _ in range(40):
            i = rng.randrange(len(xs))
            job = rng.choice(("table", "maps", "classify"))
            if job == "table" and layer_table(model) != expected_rows:
                errors.append("layer_table differs")
            elif job == "maps" and any(not torch.equal(v, expected_maps[i][k])
                                       for k, v in feature_maps(model, xs[i]).items()):
                errors.append(f"feature maps of digit {i} differ")
            elif job == "classify" and classify(model, canvases[i]).probs != expected_answers[i]:
                errors.append(f"classify of digit {i} differs")
        return errors

    errors = [e for found in at_once(worker, threads=6) for e in found]  # a worker's exception is raised here
    assert not errors, errors[:5]
    after = snapshot(model)
    assert after["pointers"] == before["pointers"] and after["modes"] == before["modes"] and after["hooks"] == 0
    assert all(torch.equal(after["state"][k], v) for k, v in before["state"].items())


def test_the_walk_and_the_text_follow_each_model():
    """Read from the model's own layers: C5 as a convolution adds a step to 1×1; the MLP has no
    maps; average pooling, tanh or sigmoid are named as they are."""
    lenet5, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    classic, _ = load_model(CHECKPOINT_DIR / "lenet5-classic.pt")
    assert describe(layer_table(lenet5)) == {"activation": "ReLU", "pool": "max", "c5": "linear"}
    assert describe(layer_table(classic)) == {"activation": "tanh", "pool": "average", "c5": "conv"}
    assert sides(layer_table(classic)) == [32, 28, 14, 10, 5, 1] and flatten_size(layer_table(classic)) == 400
    mlp = layer_table(build_model("mlp"))
    assert sides(mlp) == [] and flatten_size(mlp) is None
    assert "no output" in size_formula(3, 5) and "-" not in size_formula(3, 5).split("=")[1]
