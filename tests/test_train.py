"""The training loop on real MNIST: it learns, reports, stops between batches."""
import threading

import numpy as np
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


def test_frames_film_the_filters_every_few_hundred_samples(mnist):
    from lenet.introspect import feature_maps
    from lenet.models import build_model
    data = small(mnist, 2000)
    cfg = TrainConfig(epochs=1, batch_size=128, seed=3)
    frames = []
    result = train(cfg, data, on_frame=frames.append, frame_every=500)
    assert [f.samples for f in frames] == [0, 512, 1024, 1536, 2000]  # every 500 samples (whole batches), and the end
    assert frames[-1].progress == pytest.approx(1.0)
    torch.manual_seed(cfg.seed)
    first = build_model("lenet5").features.conv1.weight
    assert np.array_equal(frames[0].filters, first.detach().numpy())  # before the first batch: the random start
    model = result.model.eval()
    assert np.array_equal(frames[-1].filters, model.features.conv1.weight.detach().numpy())  # after the last batch
    maps = feature_maps(model, data.test.x[:1])
    assert np.allclose(frames[-1].maps["conv1"], maps["conv1"].numpy(), atol=1e-6)
    assert np.allclose(frames[-1].maps["conv2"], maps["conv2"].numpy(), atol=1e-5)
    assert not np.array_equal(frames[0].filters, frames[-1].filters)
    assert train(TrainConfig(model="mlp", limit=500), data, on_frame=frames.append) and len(frames) == 5  # no convs
