"""The digit map: penultimate features are the model's own, the PCA is the textbook one, and the
trained model's classes come apart on it. Real digits and the shipped checkpoints throughout."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lenet.checkpoints import CHECKPOINT_DIR, load_model
from lenet.data import normalise, pixels
from lenet.inside.embedding import digit_map, fit_projection, last_linear, penultimate, place
from lenet.models import build_model
from tests.conftest import at_once


def _model(name: str = "lenet5") -> torch.nn.Module:
    return load_model(CHECKPOINT_DIR / f"{name}.pt")[0]


@pytest.mark.parametrize("name, dim", [("lenet5", 84), ("lenet5-classic", 84), ("mlp", 200)])
def test_penultimate_is_what_the_last_layer_receives(digits, name, dim):
    """fc_last(penultimate(x)) is the model's own output: the features are the right layer's."""
    model = _model(name)
    x = normalise(torch.from_numpy(digits[0]))  # (100, 1, 28, 28)
    features = penultimate(model, x)
    assert features.shape == (100, dim)
    with torch.no_grad():
        assert torch.allclose(last_linear(model)[1](features), model(x), atol=1e-5, rtol=0)


def test_pca_finds_a_known_plane():
    """Points spread 3:1 along two known directions: PCA returns them, signed by their largest loading."""
    g = torch.Generator().manual_seed(0)
    u = torch.tensor([0.0, -0.8, 0.6, 0.0])  # largest loading negative: the axis must come back flipped
    v = torch.tensor([0.6, 0.0, 0.0, 0.8])
    coef = torch.randn(5000, 2, generator=g, dtype=torch.float64)
    coef = (coef - coef.mean(0)) / coef.std(0) * torch.tensor([3.0, 1.0], dtype=torch.float64)
    coef[:, 1] -= coef[:, 0] * (coef[:, 0] @ coef[:, 1]) / (coef[:, 0] @ coef[:, 0])  # exactly uncorrelated
    features = coef[:, :1] * u.double() + coef[:, 1:] * v.double() + torch.tensor([5.0, 1, 2, 3], dtype=torch.float64)
    proj = fit_projection(features)
    assert torch.allclose(proj.components[0], -u.double(), atol=1e-9)
    assert torch.allclose(proj.components[1], v.double(), atol=1e-9)
    share = 9 / (9 + coef[:, 1].var().item())
    assert proj.explained[0] == pytest.approx(share, rel=1e-9)
    mirrored = fit_projection(-features)  # the same cloud, reflected: the axes must not flip with it
    assert torch.allclose(mirrored.components, proj.components, atol=1e-9)


@pytest.mark.parametrize("name", ["lenet5", "lenet5-classic", "mlp"])
def test_axes_are_signed_by_their_largest_loading(digits, name):
    """An eigenvector's sign is arbitrary; the map fixes it, so it never mirrors between runs."""
    features = penultimate(_model(name), normalise(torch.from_numpy(digits[0])))
    for data in (features, -features):
        c = fit_projection(data).components  # (2, D)
        assert (c.gather(1, c.abs().argmax(1, keepdim=True)) > 0).all()


def test_pca_matches_numpy_eigh_of_the_covariance(digits):
    """An independent computation: the covariance's top two eigenvectors (up to sign) and eigenvalues."""
    features = penultimate(_model(), normalise(torch.from_numpy(digits[0])))  # (100, 84)
    proj = fit_projection(features)
    c = proj.components.numpy()
    assert np.allclose(c @ c.T, np.eye(2), atol=1e-12)

    f = features.double().numpy()
    values, vectors = np.linalg.eigh(np.cov(f, rowvar=False))  # ascending
    values, vectors = values[::-1], vectors[:, ::-1]
    for axis in range(2):
        ref = vectors[:, axis]
        err = min(np.linalg.norm(c[axis] - ref), np.linalg.norm(c[axis] + ref)) / np.linalg.norm(ref)
        assert err < 1e-4
    share = values[:2] / values.sum()
    assert np.allclose(proj.explained, share, rtol=1e-4)
    assert 0 < proj.explained[1] < proj.explained[0] < 1

    points = proj.project(features).numpy()
    assert np.allclose(points.mean(0), 0, atol=1e-9)
    variance = points.var(0, ddof=1)
    assert variance[0] >= variance[1]
    assert np.allclose(variance, values[:2], rtol=1e-4)


def test_classes_separate_on_the_map(mnist):
    """For the trained LeNet-5, 3,000 test digits form clusters by class on the 2-D map."""
    model = _model()
    images, labels = pixels(mnist.test.x), mnist.test.y.numpy()  # uint8 (10000, 28, 28), (10000,)
    dmap = digit_map(model, images, labels, n=3000)  # how long it takes: python -m bench.inside

    assert dmap.points.shape == (3000, 2) and len(np.unique(dmap.indices)) == 3000
    assert np.array_equal(dmap.labels, labels[dmap.indices])
    assert np.bincount(dmap.labels, minlength=10).tolist() == [300] * 10
    with torch.no_grad():
        assert np.array_equal(dmap.predicted, model(mnist.test.x[dmap.indices]).argmax(1).numpy())
    assert (dmap.predicted == dmap.labels).mean() > 0.97

    centroids = np.stack([dmap.points[dmap.labels == d].mean(0) for d in range(10)])  # (10, 2)
    dist = np.linalg.norm(dmap.points[:, None] - centroids[None], axis=2)  # (3000, 10)
    accuracy = (dist.argmin(1) == dmap.labels).mean()
    print(f"nearest-centroid accuracy on the map: {accuracy:.3f}")
    assert accuracy > 0.5
    own = dist[np.arange(3000), dmap.labels]
    others = (dist.sum(1) - own) / 9
    assert own.mean() < others.mean()

    same = digit_map(model, mnist.test.x, labels, n=3000)  # already-normalised input: the same map
    assert np.allclose(same.points, dmap.points, atol=1e-5)


def test_a_digit_lands_where_the_map_put_it(digits):
    """place() on a digit from the map gives that digit's own point: a drawing lands where it belongs."""
    model = _model()
    dmap = digit_map(model, digits[0], digits[1], n=60)
    x = normalise(torch.from_numpy(digits[0]))  # (100, 1, 28, 28)
    for row in (0, 17, 59):
        i = dmap.indices[row]
        assert np.allclose(place(model, dmap.projection, x[i:i + 1]), dmap.points[row], atol=1e-5, rtol=0)


def test_the_map_is_deterministic_and_refuses_a_training_model(digits):
    model = _model()
    a, b = digit_map(model, *digits, n=50), digit_map(model, *digits, n=50)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, digit_map(model, *digits, n=50, seed=1).indices)
    assert len(digit_map(model, *digits, n=10_000).indices) == 100  # asks for more than there are: all
    with pytest.raises(ValueError, match="training mode"):
        digit_map(build_model("lenet5"), *digits)


def test_threads_share_one_model_without_changing_it(digits):
    """Four sessions mapping at once on one loaded model get one answer and leave the model as it was."""
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    expected = digit_map(model, *digits)
    x = normalise(torch.from_numpy(digits[0][:1]))

    def work() -> tuple:
        dmap = digit_map(model, *digits)
        return dmap.points, place(model, dmap.projection, x)

    results = at_once(work)
    assert len(results) == 4
    for points, spot in results:
        assert np.array_equal(points, expected.points) and spot == results[0][1]
    assert not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
