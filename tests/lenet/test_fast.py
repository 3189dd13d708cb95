"""lenet/fast.py computes the same function as the plain model, with the same weights."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lenet.fast import FastLeNet5, accelerate, conv_pool, max_pool_2x2
from lenet.registry import build_model


def outputs_and_grads(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    out = model(x)
    out.square().sum().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("name, options", [("lenet5", {}), ("lenet5-classic", {}),
                                           ("lenet5", {"activation": "sigmoid"}), ("lenet5", {"pool": "avg"})])
def test_fast_kernels_match_plain_layers_in_float64(name, options):
    """Outputs and gradients of every parameter, to float64 precision."""
    plain = build_model(name, **options).double()
    x = torch.randn(8, 1, 28, 28, dtype=torch.float64)
    x[:, :, :6] = -0.4242  # blank rows make ties inside pooling windows
    fast_out, fast_grads = outputs_and_grads(accelerate(plain), x)
    plain_out, plain_grads = outputs_and_grads(plain, x)
    assert torch.allclose(fast_out, plain_out, atol=1e-10)
    for a, b in zip(fast_grads, plain_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-8)


def test_accelerate_shares_the_weights_and_keeps_the_checkpoint_keys():
    plain = build_model("lenet5")
    fast = accelerate(plain)
    assert isinstance(fast, FastLeNet5) and fast is not plain
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert all(a is b for a, b in zip(fast.parameters(), plain.parameters(), strict=True))
    before = plain.features.conv1.weight.detach().clone()
    opt = torch.optim.SGD(fast.parameters(), lr=0.1)
    F.cross_entropy(fast(torch.randn(4, 1, 28, 28)), torch.tensor([1, 2, 3, 4])).backward()
    opt.step()
    assert not torch.equal(plain.features.conv1.weight, before)  # training the fast one trains the plain one
    assert not plain.features.conv1._forward_hooks  # and nothing was hung on the plain model


def test_an_mlp_has_nothing_to_fuse():
    mlp = build_model("mlp")
    assert accelerate(mlp) is mlp


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
