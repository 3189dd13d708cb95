"""The plain models a student reads: shapes, parameter counts, the registry's options."""
import inspect

import pytest
import torch
from torch import nn

import lenet.models
from lenet.registry import MODELS, build_model


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


def test_every_registered_model_builds():
    for name in MODELS:
        assert build_model(name)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_the_models_file_is_plain_pytorch():
    """What a student opens: nn layers applied in order, no custom autograd and no fast path
    chosen by who is watching (those live in lenet/fast.py)."""
    source = inspect.getsource(lenet.models)
    assert "autograd" not in source and "_forward_hooks" not in source and "is_tracing" not in source
    forward = inspect.getsource(lenet.models.LeNet5.forward)
    assert [line.split("=")[0].strip() for line in forward.splitlines() if "= f." in line] == ["x"] * 9
