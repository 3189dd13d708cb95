"""The training loop: it learns on real MNIST, reports through its hook, stops between batches,
continues a saved run, and its `layers` setting (fast tier: the shipped digits and checkpoints)."""
import math
from dataclasses import replace

import pytest
import torch

from lenet.checkpoints import load_checkpoint, make_checkpoint, save_epoch
from lenet.classroom.runs import continue_config
from lenet.config import TrainConfig, pick_device
from lenet.data import BACKGROUND, Mnist, augment
from lenet.files import CHECKPOINT_DIR
from lenet.registry import build_model
from lenet.train import Hook, evaluate, train
from tests.conftest import Recorder, digits_data

TIMING = ("elapsed_s", "train_s", "samples_per_s")


def small(mnist: Mnist, n: int = 3000) -> Mnist:
    return Mnist(train=mnist.train.head(n), test=mnist.test.head(2000))


def same_run(a, b) -> None:
    assert [{k: v for k, v in h.items() if k not in TIMING} for h in a.history] == \
           [{k: v for k, v in h.items() if k not in TIMING} for h in b.history]
    for name, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[name]), name


@pytest.mark.mnist
def test_a_short_real_run_raises_accuracy(mnist):
    data = small(mnist)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=1e-2, seed=1)
    torch.manual_seed(cfg.seed)
    before = evaluate(build_model("lenet5"), data.test).accuracy
    hook = Recorder()
    result = train(cfg, data, hook)
    after = result.history[-1]["eval_accuracy"]
    assert before < 0.3 and after > 0.9
    assert [r.epoch for r in hook.epochs] == [1, 2] and hook.epochs[1].train_loss < hook.epochs[0].train_loss
    assert len(hook.batches) == 2 * math.ceil(3000 / 64) == hook.before  # once per batch, before and after
    assert all(b.samples_per_s > 0 and 0 <= b.accuracy <= 1 for b in hook.batches)
    assert set(result.history[0]) == {"epoch", "train_loss", "train_accuracy", "eval_split", "eval_loss",
                                      "eval_accuracy", "elapsed_s", "train_s", "samples_per_s"}
    assert result.history[0]["eval_split"] == "test"
    assert type(result.model).__name__ == "LeNet5"  # the plain model, whatever kernels trained it


@pytest.mark.mnist
@pytest.mark.parametrize("model, options", [
    ("mlp", {}), ("lenet5-classic", {}),
    ("lenet5", {"activation": "sigmoid", "optimizer": "sgd", "schedule": "constant"}),
])
def test_every_model_and_optimizer_trains(mnist, model, options):
    cfg = TrainConfig(model=model, epochs=1, batch_size=100, limit=2000, **options)
    result = train(cfg, small(mnist))
    assert len(result.history) == 1 and result.history[0]["eval_accuracy"] > 0.1


def test_the_hook_stops_training_between_batches(digits):
    hook = Recorder(stop_at=3)
    result = train(TrainConfig(epochs=3, batch_size=16), digits_data(digits), hook)
    assert result.stopped and result.history == [] and [b.batch for b in hook.batches] == [1, 2, 3]  # not one more


@pytest.mark.mnist
def test_validation_split_replaces_test_in_reports(mnist):
    data = Mnist(train=mnist.train.head(2000), test=mnist.test, val=mnist.train.head(3000).head(1000))
    result = train(TrainConfig(epochs=1, limit=1000), data)
    assert result.history[0]["eval_split"] == "val"


def test_augment_moves_digits_but_keeps_blank_paper(digits):
    x = digits_data(digits).test.x[:64]
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert not torch.allclose(x, y)
    corners = y[:, 0, :2, :2]
    assert torch.allclose(corners, torch.full_like(corners, BACKGROUND), atol=1e-4)
    assert (y.mean((1, 2, 3)) - x.mean((1, 2, 3))).abs().max() < 0.2  # same amount of ink, roughly


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")


def test_a_saved_run_continues_with_its_weights_and_optimizer_state(digits, tmp_path):
    data = digits_data(digits)
    cfg = TrainConfig(epochs=1, batch_size=16, seed=3)

    class Saver(Hook):
        def after_epoch(self, progress, report) -> None:
            self.path = save_epoch(tmp_path / "run.pt", cfg, progress.model, [report.to_dict()], report.optimizer)
    saver = Saver()
    train(cfg, data, saver)
    more, ckpt = continue_config(saver.path, epochs=2)
    assert more.epochs == 2 and more.seed == 3 and ckpt["optimizer"]["state"]  # Adam's moments were saved
    steps = [float(s["step"]) for s in ckpt["optimizer"]["state"].values()]
    assert set(steps) == {math.ceil(100 / cfg.batch_size)}  # one Adam step per batch of the saved epoch
    result = train(more, data, resume=ckpt)
    assert [h["epoch"] for h in result.history] == [2, 3]  # numbered on from the saved epoch
    first_layer = next(iter(ckpt["state_dict"]))
    assert not torch.equal(result.model.state_dict()[first_layer], ckpt["state_dict"][first_layer])


# --- which layers learn (used by fine-tuning) ---

def test_all_layers_is_the_default_path_unchanged(digits):
    data = digits_data(digits)
    for kernels in ("fast", "plain"):
        cfg = TrainConfig(epochs=1, batch_size=16, augment=True, seed=3, kernels=kernels)
        default = train(cfg, data)
        explicit = train(replace(cfg, layers="all"), data)
        same_run(default, explicit)
        torch.manual_seed(cfg.seed)
        start = build_model("lenet5").state_dict()  # what train() starts from: the same seed, the same build
        assert all(not torch.equal(v, start[k]) for k, v in default.model.state_dict().items())  # every layer learnt


@pytest.mark.parametrize("kernels", ["fast", "plain"])
@pytest.mark.parametrize("name", ["lenet5", "lenet5-classic"])
def test_classifier_only_keeps_the_features_bit_for_bit(digits, kernels, name):
    ckpt = load_checkpoint(CHECKPOINT_DIR / f"{name}.pt")
    cfg = TrainConfig(model=name, epochs=2, batch_size=16, lr=1e-2, schedule="constant", layers="classifier",
                      kernels=kernels)
    result = train(cfg, digits_data(digits), resume=ckpt)
    tuned = result.model.state_dict()
    for key, value in ckpt["state_dict"].items():
        if key.startswith("features."):
            assert torch.equal(tuned[key], value), key
        else:
            assert not torch.equal(tuned[key], value), key  # the classifier did learn
    assert all(p.requires_grad for p in result.model.parameters())  # given back after the run


def test_fast_and_plain_kernels_learn_the_same_classifier(digits):
    ckpt = load_checkpoint(CHECKPOINT_DIR / "lenet5.pt")
    cfg = TrainConfig(epochs=1, batch_size=20, lr=1e-3, schedule="constant", layers="classifier")
    fast, plain = (train(replace(cfg, kernels=k), digits_data(digits), resume=ckpt).model.state_dict()
                   for k in ("fast", "plain"))
    for key in fast:
        torch.testing.assert_close(fast[key], plain[key], atol=1e-5, rtol=1e-4)


def test_a_model_without_features_cannot_learn_in_its_classifier_only():
    with pytest.raises(ValueError, match="MLP has no feature layers to keep.*let all layers learn"):
        TrainConfig(model="mlp", layers="classifier").validate()
    with pytest.raises(ValueError, match="layers that learn must be all or classifier"):
        TrainConfig(layers="conv").validate()


def test_a_run_that_changes_which_layers_learn_starts_with_fresh_moments(digits):
    data = digits_data(digits)
    cfg = TrainConfig(epochs=1, batch_size=20)
    hook = Recorder()
    first = train(cfg, data, hook)
    ckpt = make_checkpoint("lenet5", {}, first.model, {}, first.history, cfg.to_dict(), hook.epochs[0].optimizer)
    again = train(replace(cfg, layers="classifier"), data, resume=ckpt)  # an all-layers state would not fit
    assert again.history[0]["epoch"] == 2
    same = train(cfg, data, resume=ckpt)  # the same layers: the saved moments are used, as before
    assert same.history[0]["epoch"] == 2
