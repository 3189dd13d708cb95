"""Attribution reads one shared model without changing it, and its maps are the model's own numbers,
checked against references computed another way (manual forward passes, autograd on a private copy)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lenet.checkpoints import load_model
from lenet.data import BACKGROUND, normalise
from lenet.files import CHECKPOINT_DIR
from lenet.inside.attribution import (
    FILL,
    MID_GREY,
    VARIANTS,
    corner_case,
    grad_cam,
    occlusion,
    robustness,
    rotate,
    saliency,
    scale,
    shift,
    thicken,
    thin,
)
from lenet.predict import classify
from lenet.registry import build_model
from tests.conftest import at_once


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return load_model(CHECKPOINT_DIR / "lenet5.pt")[0]


def _x(image: np.ndarray) -> torch.Tensor:
    return normalise(torch.from_numpy(image)[None])  # (1, 1, 28, 28)


def _far_from_ink(images: np.ndarray, reach: int = 5) -> torch.Tensor:
    """(N, 28, 28) bool: more than `reach` px (Chebyshev) from any ink, so no 6×6 patch covering it touches ink."""
    ink = torch.from_numpy(images > 0).float()[:, None]
    return F.max_pool2d(ink, 2 * reach + 1, stride=1, padding=reach)[:, 0] == 0


def _com(image: np.ndarray) -> np.ndarray:
    """Centre of mass (row, column) in pixel indices, as preprocess computes it."""
    w = image.astype(np.float64)
    return np.array([(w.sum(1) * np.arange(w.shape[0])).sum(), (w.sum(0) * np.arange(w.shape[1])).sum()]) / w.sum()


# ---- occlusion --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lenet5", "lenet5-classic", "mlp"])
def test_occlusion_hurts_on_the_strokes_not_on_empty_paper(name, digits):
    """Over 50 of the shipped test digits, hiding ink costs the answer far more than hiding paper far from it."""
    model = load_model(CHECKPOINT_DIR / f"{name}.pt")[0]
    images = digits[0][:50]
    ink, far = torch.from_numpy(images > 128), _far_from_ink(images)
    maps = torch.stack([occlusion(model, _x(image)).map for image in images])  # (50, 28, 28)
    on_ink, on_paper = float(maps[ink].mean()), float(maps[far].mean())
    print(f"{name}: mean drop on ink {on_ink:.4f}, on far paper {on_paper:.4f}")
    assert on_ink > 0.03 and on_ink > 3 * on_paper
    if name == "lenet5":  # why FILL and not mid-grey: the model reads a mid-grey patch as ink
        grey = torch.stack([occlusion(model, _x(image), fill=MID_GREY).map for image in images[:25]])
        assert float(grey[ink[:25]].mean()) < 2 * float(grey[far[:25]].mean())


def test_occlusion_is_the_mean_of_manual_forward_passes(model, digits):
    x = _x(digits[0][3])
    att = occlusion(model, x)
    with torch.no_grad():
        p = F.softmax(model(x), dim=1)[0]
    assert att.target == int(p.argmax()) and att.prob == pytest.approx(float(p[att.target]), abs=1e-6)

    def drop(top: int, left: int) -> float:
        y = x.clone()
        y[..., top:top + 6, left:left + 6] = FILL
        with torch.no_grad():
            return float(p[att.target] - F.softmax(model(y), dim=1)[0, att.target])

    assert float(x[0, 0, :6, :6].max()) == pytest.approx(BACKGROUND)  # a blank corner, covered by one patch only
    assert float(att.map[0, 0]) == pytest.approx(drop(0, 0), abs=1e-5)
    starts = range(0, 23, 2)
    covering = [(t, s) for t in starts if t <= 13 < t + 6 for s in starts if s <= 14 < s + 6]  # 3 × 3 positions
    assert float(att.map[13, 14]) == pytest.approx(np.mean([drop(t, s) for t, s in covering]), abs=1e-5)
    assert occlusion(model, x, target=3).target == 3


# ---- gradients ----------------------------------------------------------------------------------

def test_saliency_equals_autograd_on_a_private_copy(model, digits):
    mine = copy.deepcopy(model)
    for image in digits[0][:5]:
        for target in (None, 3):
            att = saliency(model, _x(image), target)
            x = _x(image).requires_grad_(True)
            logits = mine(x)
            t = int(logits.argmax()) if target is None else target
            logits[0, t].backward()
            g = x.grad[0, 0].abs()
            assert att.target == t
            torch.testing.assert_close(att.map, g / g.max(), atol=1e-6, rtol=0)


def _placement(cells: int = 10, field: int = 28) -> torch.Tensor:
    """(28, 10): bilinear weights putting conv2's cells on image rows, with cell i centred at the middle
    of its receptive field, measured below, and clamped past the outermost cells."""
    u = ((torch.arange(field, dtype=torch.float64) - 4.5) / 2).clamp(0, cells - 1)
    lo = u.floor().long()
    hi, frac = (lo + 1).clamp(max=cells - 1), u - lo
    weights = torch.zeros(field, cells, dtype=torch.float64)
    weights[torch.arange(field), lo] += 1 - frac
    weights[torch.arange(field), hi] += frac
    return weights


def test_conv2_cells_sit_where_their_receptive_fields_are():
    """Cell i of conv2 reads image rows 2i−2..2i+11 (found by autograd), centred at 2i+4.5: where grad_cam puts it."""
    model = build_model("lenet5-classic").eval()  # average pooling: every input pixel gets a gradient
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    f = model.features
    out = f.conv2(f.act1(f.pool1(f.conv1(f.pad(x)))))  # (1, 16, 10, 10)
    for i in range(1, 9):  # cells whose field lies inside the image
        (g,) = torch.autograd.grad(out[0, :, i, i].sum(), x, retain_graph=True)
        rows = g[0, 0].abs().sum(1).nonzero()[:, 0]
        assert (int(rows.min()), int(rows.max())) == (2 * i - 2, 2 * i + 11)


@pytest.mark.parametrize("name", ["lenet5", "lenet5-classic"])
def test_grad_cam_equals_a_hooked_backward_on_a_private_copy(name, digits):
    model = load_model(CHECKPOINT_DIR / f"{name}.pt")[0]
    mine, kept = copy.deepcopy(model), {}
    mine.features.conv2.register_forward_hook(lambda m, i, out: kept.update(a=out) or out.retain_grad())
    place = _placement().float()
    for image in digits[0][:5]:
        att = grad_cam(model, _x(image))
        logits = mine(_x(image))
        logits[0, att.target].backward()
        a = kept["a"]  # (1, 16, 10, 10)
        cam = F.relu((a.grad.mean((2, 3), keepdim=True) * a).sum(1))[0].detach()  # (10, 10)
        expected = place @ cam @ place.T  # (28, 28); all 0 when every weighted sum is negative
        expected = expected / expected.max() if expected.max() > 1e-6 else expected
        assert att.map.shape == (28, 28) and float(att.map.min()) >= 0 and float(att.map.max()) in (0, pytest.approx(1))
        torch.testing.assert_close(att.map, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", [
    "lenet5-classic",
    pytest.param("lenet5", marks=pytest.mark.xfail(strict=True, reason=(
        "measured on the shipped lenet5: Grad-CAM's channel-mean weights favour conv2 channels that fire on "
        "blank paper (mean 0.00 on ink vs 0.31 on far paper); occlusion shows paper barely matters"))),
])
def test_grad_cam_lights_the_strokes_more_than_empty_paper(name, digits):
    model = load_model(CHECKPOINT_DIR / f"{name}.pt")[0]
    images = digits[0]
    maps = torch.stack([grad_cam(model, _x(image)).map for image in images])
    on_ink, on_paper = float(maps[torch.from_numpy(images > 128)].mean()), float(maps[_far_from_ink(images)].mean())
    print(f"{name}: Grad-CAM mean on ink {on_ink:.3f}, on far paper {on_paper:.3f}")
    assert on_ink > 1.5 * on_paper


def test_an_mlp_has_no_grad_cam_but_has_the_other_maps(digits):
    mlp = load_model(CHECKPOINT_DIR / "mlp.pt")[0]
    x = _x(digits[0][0])
    with pytest.raises(KeyError, match="conv2"):
        grad_cam(mlp, x)
    assert occlusion(mlp, x).map.shape == saliency(mlp, x).map.shape == (28, 28)


# ---- robustness ---------------------------------------------------------------------------------

def test_shift_is_a_roll_with_zero_fill():
    image = np.random.default_rng(0).integers(1, 256, (28, 28), dtype=np.uint8)  # no zeros: every pixel counts
    for right, down in [(3, 0), (0, 3), (-6, 0), (2, -5)]:
        expected = np.roll(image, (down, right), axis=(0, 1))
        expected[:down] = 0 if down > 0 else expected[:down]
        expected[down:] = 0 if down < 0 else expected[down:]
        expected[:, :right] = 0 if right > 0 else expected[:, :right]
        expected[:, right:] = 0 if right < 0 else expected[:, right:]
        assert np.array_equal(shift(image, right, down), expected)


def test_thicken_and_thin_are_3x3_max_and_min(digits):
    for image in digits[0]:
        t = torch.from_numpy(image).float()[None, None]
        assert np.array_equal(thicken(image), F.max_pool2d(t, 3, 1, 1)[0, 0].numpy().astype(np.uint8))
        assert np.array_equal(thin(image), (-F.max_pool2d(-t, 3, 1, 1))[0, 0].numpy().astype(np.uint8))
        assert (thicken(image) >= image).all() and (thin(image) <= image).all()
        assert (thicken(image) > 128).sum() > (image > 128).sum() > (thin(image) > 128).sum()


def test_rotate_and_scale_turn_and_grow_about_the_centre(digits):
    dot = np.zeros((28, 28), np.uint8)
    dot[13:15, 21:23] = 255  # centre of mass (13.5, 21.5): 8 px right of the field's centre (13.5, 13.5)
    np.testing.assert_allclose(_com(rotate(dot, 90)), [5.5, 13.5], atol=0.3)  # anticlockwise: right -> up
    np.testing.assert_allclose(_com(scale(dot, 0.5)), [13.5, 17.5], atol=0.3)
    for image in digits[0][:20]:
        np.testing.assert_allclose(_com(rotate(rotate(image, 20), -20)), _com(image), atol=0.5)
        assert (scale(image, 0.7) > 128).sum() < (image > 128).sum() < (scale(image, 1.3) > 128).sum()


def test_each_variant_is_its_transform_and_the_models_answer(model, digits):
    image = digits[0][0]
    variants = {v.name: v for v in robustness(model, image)}
    assert list(variants) == [name for name, _ in VARIANTS]
    expected = {"original": image, "shifted 3 px right": shift(image, right=3),
                "shifted 3 px down": shift(image, down=3), "shifted 6 px left": shift(image, right=-6),
                "rotated 20° anticlockwise": rotate(image, 20), "rotated 20° clockwise": rotate(image, -20),
                "rotated 40° clockwise": rotate(image, -40), "scaled 70%": scale(image, 0.7),
                "scaled 130%": scale(image, 1.3), "thickened": thicken(image), "thinned": thin(image)}
    for name, picture in expected.items():
        assert np.array_equal(variants[name].image, picture), name
    assert np.array_equal(variants["shifted 3 px right"].image[:, 3:], image[:, :-3])
    for v in variants.values():
        answer = classify(model, _x(v.image))
        assert v.image.shape == (28, 28) and v.image.dtype == np.uint8
        assert (v.digit, v.confidence) == (answer.digit, answer.confidence)
    assert variants["original"].digit == digits[1][0]


def test_corner_case_naive_is_off_centre_and_mnist_style_is_centred(model, digits):
    for image in digits[0][:10]:
        naive, mnist_style = corner_case(model, image)
        assert (_com(naive.image) < 10).all()  # in the top-left, far from (14, 14)
        assert np.abs(_com(mnist_style.image) - 14).max() <= 1
        for v in (naive, mnist_style):
            answer = classify(model, _x(v.image))
            assert (v.digit, v.confidence) == (answer.digit, answer.confidence)


# ---- sharing the model --------------------------------------------------------------------------

def test_concurrent_calls_share_one_model_without_changing_it(digits):
    model = load_model(CHECKPOINT_DIR / "lenet5.pt")[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = digits[0][:2]

    def run(image: np.ndarray) -> tuple:
        x = _x(image)
        maps = tuple(f(model, x).map for f in (occlusion, saliency, grad_cam))
        reads = [(v.digit, v.confidence) for v in [*robustness(model, image), *corner_case(model, image)]]
        return maps, reads

    expected = [run(image) for image in images]
    results = [r for rs in at_once(lambda: [(i, run(image)) for _ in range(2) for i, image in enumerate(images)])
               for r in rs]
    assert len(results) == 4 * 2 * len(images)
    for i, (maps, reads) in results:
        assert all(torch.equal(a, b) for a, b in zip(maps, expected[i][0], strict=True))
        assert reads == expected[i][1]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())
    assert not model.training


def test_a_model_in_training_mode_or_a_wrong_input_is_refused(model, digits):
    training, image = copy.deepcopy(model).train(), digits[0][0]
    for call in (lambda: occlusion(training, _x(image)), lambda: saliency(training, _x(image)),
                 lambda: grad_cam(training, _x(image)), lambda: robustness(training, image),
                 lambda: corner_case(training, image)):
        with pytest.raises(ValueError, match="eval mode"):
            call()
    with pytest.raises(ValueError, match="28×28"):
        saliency(model, torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="uint8"):
        robustness(model, image.astype(np.float32))
