"""The class teaches the model: fine-tuning the shipped lenet5 on drawings made the way the app
gets them (MNIST *training* digits redrawn on a 280×280 canvas, preprocessed by to_mnist). The
training loop's `layers` setting, which it uses, is tested in test_train.py."""
import hashlib
import time

import numpy as np
import pytest
import torch
from PIL import Image

from harness.synth import SIZES, STROKES, canvas_of, render
from lenet.checkpoints import load_checkpoint, load_model
from lenet.classroom import collection
from lenet.classroom.finetune import (
    FineTuneError,
    checkpoint_of,
    class_split,
    finetune,
    mixed_data,
    plan,
    recipe,
    repeats,
    save_finetuned,
    scores,
)
from lenet.config import TrainConfig
from lenet.data import Split, normalise, pixels
from lenet.files import CHECKPOINT_DIR
from lenet.predict import classify
from lenet.preprocess import to_mnist
from lenet.train import evaluate
from tests.conftest import digits_data

SHIPPED = CHECKPOINT_DIR / "lenet5.pt"
DRAWINGS = 320  # ~240 to learn from, ~80 held out


def test_the_mix_repeats_the_drawings_towards_their_share(tmp_path, digits):
    images, labels = digits
    for i in range(40):
        collection.save(tmp_path, images[i], int(labels[i]))
    items = collection.items(tmp_path)
    drawings = class_split(items, collection.images(items))
    mnist = digits_data(digits)
    mix = mixed_data(drawings, mnist, replay=60, seed=0)
    n = repeats(40, 60)
    assert n == 1 and len(mix.train) == 40 * n + 60 and mix.test is mnist.test and mix.val is None
    assert repeats(1000, 3000) == 2 and repeats(10, 3000) == 8 and repeats(5000, 3000) == 1 and repeats(0, 9) == 0
    assert torch.equal(mix.train.x[:40], normalise(torch.from_numpy(collection.images(items))))
    assert torch.equal(mixed_data(drawings, mnist, 60, seed=0).train.x, mix.train.x)  # seeded
    assert not torch.equal(mixed_data(drawings, mnist, 60, seed=1).train.y, mix.train.y)
    with pytest.raises(FineTuneError, match="replay must be from 0 to 100"):
        mixed_data(drawings, mnist, 101, seed=0)


def test_too_few_drawings_are_refused_saying_what_to_do(tmp_path, digits):
    images, labels = digits
    for i in range(5):
        collection.save(tmp_path, images[i], int(labels[i]))
    with pytest.raises(FineTuneError, match=r"needs at least 14: save more drawings on the Draw page"):
        finetune(SHIPPED, tmp_path, digits_data(digits))


def test_damaged_drawings_are_skipped_and_counted(tmp_path, digits):
    """A truncated image, an empty image and an empty JSON among good drawings: fine-tuning reads
    the good ones and says how many it skipped, instead of failing."""
    images, labels = digits
    saved = [collection.save(tmp_path, images[i], int(labels[i])) for i in range(40)]
    png = saved[0].path.read_bytes()
    saved[0].path.write_bytes(png[: len(png) // 2])  # truncated
    saved[1].path.write_bytes(b"")  # zero bytes
    (tmp_path / f"{saved[2].id}.json").write_bytes(b"")  # a JSON without its record
    saved[3].path.unlink()  # a JSON without its image
    ready = plan(SHIPPED, tmp_path, "classifier", epochs=1)
    assert ready.damaged == 4 and len(ready.learn) + len(ready.held) == 36
    result = finetune(SHIPPED, tmp_path, digits_data(digits), layers="classifier", epochs=1, replay=50)
    assert result.damaged == 4 and checkpoint_of(result)["finetune"]["damaged"] == 4


# --- fine-tuning the shipped lenet5 on real MNIST ---

@pytest.fixture(scope="module")
def class_folder(tmp_path_factory, mnist):
    """DRAWINGS canvases redrawn from MNIST training digits (the test set stays unseen), in every
    stroke and size, preprocessed and saved exactly as the Draw page does."""
    folder = tmp_path_factory.mktemp("class")
    model, _ = load_model(SHIPPED)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(mnist.train), DRAWINGS, replace=False)
    raw = pixels(mnist.train.x[picks])  # (N, 28, 28) uint8, the digits as MNIST has them
    kinds = [(stroke, size) for stroke in STROKES for size in SIZES]
    for j, (index, digit) in enumerate(zip(picks.tolist(), raw, strict=True)):
        label = int(mnist.train.y[index])
        drawing = render(digit, label, index, rng, "canvas", *kinds[j % len(kinds)])
        steps = to_mnist(drawing.image)  # the RGBA canvas, as the Draw page reads it
        collection.save(folder, steps.centred, label, canvas=drawing.image, predicted=classify(model, steps).digit,
                        model=SHIPPED.name)
    return folder


def slanted(canvas: np.ndarray, degrees: float) -> np.ndarray:
    """A canvas drawn by a hand that slants `degrees` anticlockwise: black stays black. The canvas is
    gray ink on opaque black, so its one gray channel is turned (a quarter of the work of RGBA)."""
    gray = Image.fromarray(canvas[..., 0]).rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    return canvas_of(np.asarray(gray))


def slanted_drawings(mnist, count: int, seed: int, tilt: bool = True) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """`count` (canvas, 28×28 image, label) of a hand that slants 25-35° to the left, like no MNIST
    writer (or, tilt=False, upright): MNIST training digits redrawn on the canvas, then turned,
    then read by to_mnist."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(mnist.train), count, replace=False)
    kinds = [(stroke, size) for stroke in STROKES for size in SIZES]
    out = []
    for j, (index, digit) in enumerate(zip(picks.tolist(), pixels(mnist.train.x[picks]), strict=True)):
        label = int(mnist.train.y[index])
        canvas = render(digit, label, index, rng, "canvas", *kinds[j % len(kinds)]).image
        canvas = slanted(canvas, rng.uniform(25, 35)) if tilt else canvas
        out.append((canvas, to_mnist(canvas).centred, label))
    return out


@pytest.fixture(scope="module")
def slanted_class(tmp_path_factory, mnist):
    """A collection of DRAWINGS in the slanted hand, and 600 more of it, never collected, to
    judge by: the held-out quarter of the collection alone (~80) moves 1.25 points a drawing."""
    folder = tmp_path_factory.mktemp("slanted")
    for canvas, image, label in slanted_drawings(mnist, DRAWINGS, seed=7):
        collection.save(folder, image, label, canvas=canvas)
    fresh = slanted_drawings(mnist, 600, seed=99)
    x = normalise(torch.from_numpy(np.stack([image for _, image, _ in fresh])))
    return folder, Split(x=x, y=torch.tensor([label for _, _, label in fresh]))


@pytest.mark.mnist
@pytest.mark.parametrize("layers", ["all", "classifier"])
def test_a_class_that_slants_its_digits_teaches_the_model_its_hand(slanted_class, mnist, layers):
    """What fine-tuning is for: a hand MNIST never had. 600 fresh drawings in that hand are read
    better after (measured: 90.2% -> 92.0-92.5%, either recipe), the held-out drawings about as
    well, and MNIST's test accuracy stays at 99% or more (99.48% -> 99.39-99.45%)."""
    folder, fresh = slanted_class
    shipped, _ = load_model(SHIPPED)
    start = time.perf_counter()
    r = finetune(SHIPPED, folder, mnist, layers=layers)
    before, after = evaluate(shipped, fresh).accuracy, evaluate(r.model, fresh).accuracy
    print(f"\nslanted class, lenet5 layers={layers}: MNIST test {r.before.mnist_accuracy:.4f} -> "
          f"{r.after.mnist_accuracy:.4f}, held-out {r.before.class_accuracy:.4f} -> {r.after.class_accuracy:.4f} "
          f"({r.held_count}), 600 fresh {before:.4f} -> {after:.4f} ({time.perf_counter() - start:.1f} s)")
    assert before < 0.95  # the shipped model does find this hand hard
    assert after >= before + 0.01  # 6 more of the 600: the claim, judged on drawings never collected
    # The held-out ~80 are a small judge: with 1 or 2 threads (float sums in another order) the
    # same recipe moved them by 2 drawings, so they may lose 3 at most (measured: from 2 better to 2 worse).
    assert round((r.before.class_accuracy - r.after.class_accuracy) * r.held_count) <= 3
    assert r.after.mnist_accuracy >= 0.990


@pytest.fixture(scope="module")
def tuned(class_folder, mnist):
    """Both fine-tunes of the shipped lenet5, with the shipped model and file watched throughout."""
    digest = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    shipped, _ = load_model(SHIPPED)
    weights = {k: v.clone() for k, v in shipped.state_dict().items()}
    shipped_scores = scores(shipped, plan(SHIPPED, class_folder).held, mnist.test)
    runs = {}
    for layers in ("all", "classifier"):
        start = time.perf_counter()
        runs[layers] = finetune(SHIPPED, class_folder, mnist, layers=layers)
        runs[layers].seconds = time.perf_counter() - start
        r = runs[layers]
        print(f"\nlenet5 layers={layers}: MNIST test {r.before.mnist_accuracy:.4f} -> {r.after.mnist_accuracy:.4f}, "
              f"held-out drawings {r.before.class_accuracy:.4f} -> {r.after.class_accuracy:.4f} "
              f"({r.train_count} learnt from, {r.held_count} held out, {r.replay} MNIST replayed, {r.seconds:.1f} s)")
    fresh = slanted_drawings(mnist, 600, seed=98, tilt=False)  # more of the class's hand, never collected
    x = normalise(torch.from_numpy(np.stack([image for _, image, _ in fresh])))
    fresh = Split(x=x, y=torch.tensor([label for _, _, label in fresh]))
    return {"runs": runs, "digest": digest, "shipped": shipped, "weights": weights, "scores": shipped_scores,
            "fresh": fresh}


@pytest.mark.mnist
@pytest.mark.parametrize("layers", ["all", "classifier"])
def test_fine_tuning_keeps_mnist_and_costs_an_mnist_like_class_under_a_point(tuned, layers):
    r = tuned["runs"][layers]
    assert r.before == tuned["scores"]  # "before" is the shipped model on the same images
    assert r.after.mnist_accuracy >= 0.990
    # Judged on 600 fresh drawings of the same hand: the held-out ~80, split by random id anew each
    # run, moved by up to 3 drawings either way over runs (measured), too few to tell.
    before, after = evaluate(tuned["shipped"], tuned["fresh"]).accuracy, evaluate(r.model, tuned["fresh"]).accuracy
    print(f"\nlike-MNIST class, layers={layers}: 600 fresh drawings {before:.4f} -> {after:.4f}")
    assert after >= before - 0.01, (before, after)  # measured: 98.50% -> 97.83% (all), 98.00% (classifier)
    assert r.train_count + r.held_count == DRAWINGS and r.after.class_count == r.held_count > 40
    assert r.config.layers == layers and len(r.history) == r.config.epochs and not r.stopped
    assert r.history[0]["epoch"] == 13  # continues the shipped run's 12 epochs


@pytest.mark.mnist
@pytest.mark.parametrize("layers", ["all", "classifier"])
def test_the_scores_are_the_models_own(tuned, mnist, class_folder, layers):
    r = tuned["runs"][layers]
    assert not r.model.training and next(r.model.parameters()).device.type == "cpu"
    with torch.no_grad():
        right = sum(int((r.model(x).argmax(1) == y).sum()) for x, y in zip(mnist.test.x.split(500),
                                                                            mnist.test.y.split(500), strict=True))
    assert r.after.mnist_accuracy == pytest.approx(right / len(mnist.test), abs=1e-7)
    held = collection.split(collection.items(class_folder))[1]
    answers = [classify(r.model, normalise(torch.from_numpy(item.image()[None]))).digit for item in held]
    right = sum(a == item.label for a, item in zip(answers, held, strict=True))
    assert r.after.class_accuracy == pytest.approx(right / len(held), abs=1e-7)


@pytest.mark.mnist
def test_the_source_file_and_the_shipped_model_are_untouched(tuned):
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == tuned["digest"]
    shipped = tuned["shipped"]
    assert not shipped.training and all(p.requires_grad for p in shipped.parameters())
    for key, value in shipped.state_dict().items():
        assert torch.equal(value, tuned["weights"][key]), key


@pytest.mark.mnist
def test_classifier_only_fine_tuning_keeps_the_features_and_all_layers_does_not(tuned):
    weights = tuned["weights"]
    for layers, kept in (("classifier", True), ("all", False)):
        tuned_weights = tuned["runs"][layers].model.state_dict()
        for key in ("features.conv1.weight", "features.conv2.weight"):
            assert torch.equal(tuned_weights[key], weights[key]) is kept, (layers, key)
        assert not torch.equal(tuned_weights["classifier.fc3.weight"], weights["classifier.fc3.weight"])


@pytest.mark.mnist
@pytest.mark.parametrize("layers", ["all", "classifier"])
def test_the_fine_tuned_checkpoint_loads_and_predicts_the_same(tuned, mnist, tmp_path, layers):
    r = tuned["runs"][layers]
    path = save_finetuned(tmp_path / "lenet5-class.pt", r)
    ckpt = load_checkpoint(path)  # weights_only: plain types and tensors only
    record = ckpt["finetune"]
    assert record["source"] == str(SHIPPED) and record["layers"] == layers
    assert record["before"] == {"mnist_accuracy": r.before.mnist_accuracy, "class_accuracy": r.before.class_accuracy,
                                "class_count": r.held_count}
    assert record["after"]["mnist_accuracy"] == ckpt["metrics"]["eval_accuracy"] == r.after.mnist_accuracy
    assert [h["epoch"] for h in ckpt["history"]] == list(range(1, 13 + r.config.epochs))
    assert ckpt["train"]["layers"] == layers and "optimizer" not in ckpt
    assert checkpoint_of(r)["finetune"] == record
    model, _ = load_model(path)
    x = mnist.test.x[:2000]
    with torch.no_grad():
        assert torch.equal(model(x), r.model(x))


def test_the_recipe_is_a_gentle_continuation():
    for layers in ("all", "classifier"):
        cfg = recipe(layers, epochs=2, seed=5)
        cfg.validate()
        assert (cfg.layers, cfg.epochs, cfg.seed, cfg.schedule) == (layers, 2, 5, "constant")
        assert cfg.lr <= 2e-3 < TrainConfig().lr
