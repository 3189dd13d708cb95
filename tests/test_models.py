import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lenet.introspect import capture, feature_maps, filters, layer_table, output_size, size_formula
from lenet.models import MODELS, build_model, conv_pool, max_pool_2x2, predict


@pytest.mark.parametrize("name, params", [("lenet5", 61_706), ("lenet5-classic", 61_706), ("mlp", 248_460)])
def test_output_shape_and_parameter_count(name, params):
    model = build_model(name)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == params


def test_registry_options_change_layers():
    sigmoid = build_model("lenet5", activation="sigmoid", pool="avg")
    kinds = {type(m).__name__ for m in sigmoid.modules()}
    assert {"Sigmoid", "AvgPool2d"} <= kinds and "ReLU" not in kinds and "MaxPool2d" not in kinds
    classic = build_model("lenet5-classic")
    assert isinstance(classic.features.conv3, nn.Conv2d) and classic.features.conv3.kernel_size == (5, 5)
    assert {type(m).__name__ for m in classic.modules()} >= {"Tanh", "AvgPool2d"}


@pytest.mark.parametrize("name, options, message", [
    ("lenet6", {}, "unknown model"),
    ("lenet5", {"activation": "gelu"}, "activation must be one of"),
    ("mlp", {"pool": "max"}, "has no option 'pool'"),
])
def test_bad_model_requests_are_explained(name, options, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, **options)


@pytest.mark.parametrize("name", ["lenet5", "lenet5-classic", "lenet5-sigmoid"])
def test_fast_kernels_match_plain_layers(name):
    """The polyphase conv and Max4 compute the same outputs and gradients as nn layers;
    a forward hook on conv1 switches to the plain layers so it sees the real maps."""
    model = (build_model("lenet5", activation="sigmoid") if name == "lenet5-sigmoid" else build_model(name)).double()
    x = torch.randn(8, 1, 28, 28, dtype=torch.float64)
    x[:, :, :6] = -0.4242  # blank rows make ties inside pooling windows
    results = []
    for hooked in (False, True):
        handle = model.features.conv1.register_forward_hook(lambda *a: None) if hooked else None
        assert model._fast() is not hooked
        model.zero_grad()
        out = model(x)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
        if handle:
            handle.remove()
    (fast, fast_grads), (plain, plain_grads) = results
    assert torch.allclose(fast, plain, atol=1e-10)
    for a, b in zip(fast_grads, plain_grads):
        assert torch.allclose(a, b, atol=1e-8)


def test_max4_gradient_matches_max_pool2d_with_ties():
    x = torch.randn(4, 3, 10, 10, dtype=torch.float64)
    x[:, :, :4] = 1.0  # every window in the top rows is a four-way tie
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    g = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    F.max_pool2d(a, 2).backward(g)
    max_pool_2x2(b).backward(g)
    assert torch.equal(F.max_pool2d(x, 2), max_pool_2x2(x))
    assert torch.equal(a.grad, b.grad)


@pytest.mark.parametrize("pool", [nn.MaxPool2d(2), nn.AvgPool2d(2)])
def test_conv_pool_equals_conv_then_pool(pool):
    conv = nn.Conv2d(3, 4, 5).double()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    assert torch.allclose(conv_pool(x, conv, pool), pool(conv(x)), atol=1e-12)


def test_layer_table_walks_lenet_shapes():
    rows = layer_table(build_model("lenet5"))
    sides = [rows[0].in_shape[-1]] + [r.out_shape[-1] for r in rows if r.name.split(".")[-1].startswith(("pad", "conv", "pool"))]
    assert sides == [28, 32, 28, 14, 10, 5]
    conv1 = next(r for r in rows if r.name == "features.conv1")
    assert conv1.formula == "(32 + 2·0 − 5)/1 + 1 = 28" and conv1.params == 6 * 25 + 6
    assert rows[-1].out_shape == (10,)
    assert sum(r.params for r in rows) == 61_706


def test_output_size_formula_flags_non_integer_sizes():
    assert output_size(32, 5) == 28 and output_size(28, 2, s=2) == 14
    assert output_size(28, 5, p=2) == 28  # "same" padding
    assert "rounded down" in size_formula(27, 2, 0, 2)


def test_capture_removes_its_hooks_even_when_forward_fails():
    model = build_model("lenet5").eval()
    with pytest.raises(RuntimeError):
        with capture(model, ["features.conv1"]):
            model(torch.zeros(1, 3, 28, 28))  # wrong channel count
    assert not model.features.conv1._forward_hooks
    with pytest.raises(KeyError, match="no layer"):
        with capture(model, ["features.conv9"]):
            pass


def test_feature_maps_and_filters_have_lenet_shapes():
    model = build_model("lenet5")
    maps = feature_maps(model, torch.randn(1, 1, 28, 28))
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "conv1": (6, 28, 28), "pool1": (6, 14, 14), "conv2": (16, 10, 10), "pool2": (16, 5, 5)}
    assert {k: tuple(v.shape) for k, v in filters(model).items()} == {"conv1": (6, 1, 5, 5), "conv2": (16, 6, 5, 5)}
    with pytest.raises(KeyError):
        feature_maps(build_model("mlp"), torch.randn(1, 1, 28, 28))


def test_predict_gives_probabilities():
    probs = predict(build_model("lenet5"), torch.randn(3, 1, 28, 28))
    assert probs.shape == (3, 10) and torch.allclose(probs.sum(1), torch.ones(3))


def test_every_registered_model_builds():
    for name in MODELS:
        assert build_model(name)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
