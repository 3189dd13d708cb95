"""The digit map: penultimate features are the model's own, the PCA is the textbook one, and the
trained model's classes come apart on it; t-SNE pulls them apart further, and a drawing joins its
map without moving it. Real digits and the shipped checkpoints throughout."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from lenet.checkpoints import load_model
from lenet.data import normalise, pixels
from lenet.files import CHECKPOINT_DIR
from lenet.inside.embedding import (
    digit_map,
    fit_projection,
    halves,
    knn_accuracy,
    knn_predict,
    last_linear,
    penultimate,
    place,
)
from lenet.inside.tsne import MapCache, place_tsne, tsne_map
from lenet.registry import build_model
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


def test_knn_votes_as_worked_out_by_hand():
    """Known dots on a line: 0 at 0, 1, 2; 1 at 10, 11; 2 at 3. k = 3 votes, a tie to the smaller digit."""
    known = np.array([[0.0, 0], [1, 0], [2, 0], [10, 0], [11, 0], [3, 0]])
    labels = np.array([0, 0, 0, 1, 1, 2])
    points = np.array([[0.5, 0], [10.5, 0], [2.6, 0], [6.4, 0]])
    # 0.5: 0, 1, 2 -> 0 0 0. 10.5: 10, 11, 3 -> 1 1 2. 2.6: 3, 2, 1 -> 2 0 0. 6.4: 3, 10, 2 -> 2 1 0: a tie, to 0.
    assert knn_predict(known, labels, points, k=3).tolist() == [0, 1, 0, 0]
    assert knn_predict(known, labels, np.array([[6.6, 0]]), k=2).tolist() == [1]  # 3 and 10: 2 and 1, a tie, to 1


def test_knn_accuracy_scores_the_held_out_half():
    """Two far islands, labels pure but for three strays inside island 0 labelled 1: every held-out
    dot is given its island's digit, so exactly the strays that were held out are wrong."""
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(100, 1, (40, 2))])  # (80, 2)
    labels = np.repeat([0, 1], 40)
    assert knn_accuracy(points, labels) == 1.0
    labels[[3, 17, 29]] = 1  # three strays in island 0
    fit, held = halves(80)
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(80)) and len(fit) == len(held) == 40
    strays_held = len({3, 17, 29} & set(held.tolist()))
    assert knn_accuracy(points, labels) == pytest.approx(1 - strays_held / 40)
    assert halves(80, seed=1)[0].tolist() != fit.tolist()


def test_the_map_cache_computes_once_for_every_asker_and_shows_them_its_progress():
    """Four sessions ask for one map at once: it is computed once, and each asker sees it halfway."""
    calls, seen, lock = [], set(), threading.Lock()
    everyone_saw = threading.Event()

    def compute(report):
        calls.append(1)
        report(0.5)
        assert everyone_saw.wait(30), "not every asker saw the progress"
        return object()

    def progress(share: float) -> None:
        if share == 0.5:
            with lock:
                seen.add(threading.get_ident())
                if len(seen) == 4:
                    everyone_saw.set()

    cache = MapCache(size=2, poll_s=0.01)
    results = at_once(lambda: cache.get("lenet5", compute, progress))
    assert len(calls) == 1 and len({id(r) for r in results}) == 1 and len(seen) == 4
    assert cache.ready("lenet5") and cache.get("lenet5", compute) is results[0] and len(calls) == 1
    cache.get("a", lambda report: 1)
    cache.get("b", lambda report: 2)  # a third key: the least recently asked ("lenet5") goes
    assert not cache.ready("lenet5") and cache.ready("a") and cache.ready("b")


def test_the_map_cache_forgets_a_failure():
    def fail(report):
        raise RuntimeError("no MNIST")

    cache = MapCache(size=2, poll_s=0.01)
    with pytest.raises(RuntimeError, match="no MNIST"):
        cache.get("k", fail)
    assert not cache.ready("k") and cache.get("k", lambda report: 7) == 7


@pytest.fixture(scope="module")
def tsne_lenet5(mnist):
    """The Explain page's t-SNE map of the shipped lenet5 (2,000 test digits), its PCA beside it,
    and the model's state before either was made."""
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    shares: list[float] = []
    tmap = tsne_map(model, mnist.test.x, mnist.test.y, n=2000, progress=shares.append)
    return model, before, tmap, digit_map(model, mnist.test.x, mnist.test.y, n=2000), shares


def test_tsne_keeps_the_classes_apart_where_pca_does_not(tsne_lenet5):
    model, _, tmap, pca, shares = tsne_lenet5
    print(f"5-NN accuracy on lenet5's map of 2,000 test digits: PCA {pca.knn:.1%}, t-SNE {tmap.knn:.1%}")
    assert np.array_equal(tmap.indices, pca.indices) and np.array_equal(tmap.labels, pca.labels)
    assert np.array_equal(tmap.predicted, pca.predicted)
    assert tmap.points.shape == (2000, 2) and tmap.width == 84
    assert tmap.knn >= 0.95 and pca.knn < tmap.knn
    assert tmap.knn == knn_accuracy(tmap.points, tmap.labels)
    assert shares == sorted(shares) and shares[-1] == 1.0 and len(shares) > 5  # the progress bar's reports


def test_placing_a_drawing_leaves_the_map_where_it_was(tsne_lenet5, mnist):
    model, _, tmap, _, _ = tsne_lenet5
    points, fitted = tmap.points.copy(), np.array(tmap.embedding).copy()
    for i in range(5):
        place_tsne(model, tmap, mnist.train.x[i:i + 1])
    assert np.array_equal(tmap.points, points) and np.array_equal(np.array(tmap.embedding), fitted)
    assert not tmap.points.flags.writeable
    assert np.array_equal(points, fitted)  # the map drawn is the map drawings are placed on


def test_a_digit_lands_among_its_own_class(tsne_lenet5, mnist):
    """Training digits (never on the map) land where their class is: most of their 5 nearest dots are theirs.
    A digit from the map lands at its own dot."""
    model, _, tmap, _, _ = tsne_lenet5
    span = np.ptp(tmap.points, axis=0).max()
    for i in range(20):
        star = np.array(place_tsne(model, tmap, mnist.train.x[i:i + 1]))
        nearest = np.linalg.norm(tmap.points - star, axis=1).argsort()[:5]
        digit = int(mnist.train.y[i])
        assert (tmap.labels[nearest] == digit).sum() >= 3, (i, digit, tmap.labels[nearest].tolist())
    for row in (0, 700, 1999):
        j = tmap.indices[row]
        star = np.array(place_tsne(model, tmap, mnist.test.x[j:j + 1]))
        assert np.linalg.norm(star - tmap.points[row]) < 0.01 * span


def test_the_tsne_map_is_the_same_every_time(tsne_lenet5, mnist):
    model = tsne_lenet5[0]
    a = tsne_map(model, mnist.test.x, mnist.test.y, n=400)
    b = tsne_map(model, mnist.test.x, mnist.test.y, n=400)
    assert np.array_equal(a.points, b.points) and a.knn == b.knn
    x = mnist.train.x[:1]
    assert place_tsne(model, a, x) == place_tsne(model, b, x)


def test_sessions_placing_at_once_get_what_one_at_a_time_gets(tsne_lenet5, mnist):
    """Four sessions place drawings on the one shared map at once: the same answers as one after
    another, the map unmoved, and the shared model as it was."""
    model, before, tmap, _, _ = tsne_lenet5
    drawings = [mnist.train.x[i:i + 1] for i in range(100, 106)]
    expected = [place_tsne(model, tmap, x) for x in drawings]
    points = tmap.points.copy()
    results = at_once(lambda: [place_tsne(model, tmap, x) for x in drawings])
    assert len(results) == 4 and all(r == expected for r in results)
    assert np.array_equal(tmap.points, points)
    assert not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
