"""The training loop on real MNIST: it learns, reports, stops between batches."""
import threading

import pytest
import torch

from lenet.data import BACKGROUND, Mnist
from lenet.train import TrainConfig, augment, evaluate, pick_device, train


def small(mnist: Mnist, n: int = 3000) -> Mnist:
    return Mnist(train=mnist.train.head(n), test=mnist.test.head(2000))


def test_a_short_real_run_raises_accuracy(mnist):
    data = small(mnist)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=1e-2, seed=1)
    from lenet.models import build_model
    torch.manual_seed(cfg.seed)
    before = evaluate(build_model("lenet5"), data.test).accuracy
    batches, epochs = [], []
    result = train(cfg, data, on_batch=lambda r, m: batches.append(r), on_epoch=lambda r, m: epochs.append(r))
    after = result.history[-1]["eval_accuracy"]
    assert before < 0.3 and after > 0.9
    assert [r.epoch for r in epochs] == [1, 2] and epochs[1].train_loss < epochs[0].train_loss
    assert batches and all(b.samples_per_s > 0 and 0 <= b.accuracy <= 1 for b in batches)
    assert set(result.history[0]) == {"epoch", "train_loss", "train_accuracy", "eval_split", "eval_loss",
                                      "eval_accuracy", "elapsed_s", "train_s", "samples_per_s"}
    assert result.history[0]["eval_split"] == "test"


@pytest.mark.parametrize("model, options", [
    ("mlp", {}), ("lenet5-classic", {}),
    ("lenet5", {"activation": "sigmoid", "optimizer": "sgd", "schedule": "constant"}),
])
def test_every_model_and_optimizer_trains(mnist, model, options):
    cfg = TrainConfig(model=model, epochs=1, batch_size=100, limit=2000, **options)
    result = train(cfg, small(mnist))
    assert len(result.history) == 1 and result.history[0]["eval_accuracy"] > 0.1


def test_another_thread_stops_training_between_batches(mnist):
    stop = threading.Event()
    seen = []

    def on_batch(report, model):
        seen.append(report.batch)
        if report.batch >= 10:
            stop.set()
    cfg = TrainConfig(epochs=3, batch_size=32, log_every=1)
    result = train(cfg, mnist, on_batch=on_batch, stop=stop)
    assert result.stopped and result.history == [] and seen[-1] == 10  # not one batch more


def test_validation_split_replaces_test_in_reports(mnist):
    data = Mnist(train=mnist.train.head(2000), test=mnist.test, val=mnist.train.head(3000).head(1000))
    result = train(TrainConfig(epochs=1, limit=1000), data)
    assert result.history[0]["eval_split"] == "val"


def test_augment_moves_digits_but_keeps_blank_paper(mnist):
    x = mnist.test.x[:64]
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
