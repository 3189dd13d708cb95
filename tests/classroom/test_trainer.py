"""The app's hook on the training loop (lenet/classroom/trainer.py), run here in this process: what
it sends, when, and that it honours Stop and the pages' count."""
import threading

import numpy as np
import pytest
import torch

from lenet.checkpoints import load_model
from lenet.classroom.protocol import EpochEnded, Filmed, Order, Probed, Stepped, Weights
from lenet.classroom.trainer import FRAME_EVERY, LiveHook, wait_for_pages
from lenet.config import TrainConfig
from lenet.data import Mnist
from lenet.inside.introspect import feature_maps
from lenet.inside.ood import calibration_for, of_checkpoint
from lenet.registry import build_model
from lenet.train import train


class Pages:
    def __init__(self, value: int = 0) -> None:
        self.value = value


def run_with_hook(mnist: Mnist, cfg: TrainConfig, tmp_path, stop=None, **options) -> tuple[list, object]:
    sent: list = []
    order = Order(config=cfg, path=tmp_path / "run.pt")
    hook = LiveHook(sent.append, stop or threading.Event(), Pages(), order, [], govern=False, **options)
    return sent, train(cfg, mnist, hook)


@pytest.mark.mnist
def test_frames_film_the_filters_every_few_hundred_samples(mnist, tmp_path):
    data = Mnist(train=mnist.train.head(2000), test=mnist.test.head(2000))
    cfg = TrainConfig(epochs=1, batch_size=128, seed=3)
    sent, result = run_with_hook(data, cfg, tmp_path)
    frames = [m.frame for m in sent if isinstance(m, Filmed)]
    assert FRAME_EVERY == 500
    assert [f.samples for f in frames] == [0, 512, 1024, 1536, 2000]  # every 500, in whole batches, and the end
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
    mlp, _ = run_with_hook(data, TrainConfig(model="mlp", limit=500), tmp_path)
    assert not [m for m in mlp if isinstance(m, Filmed)]  # no convolutions, no film


@pytest.mark.mnist
def test_it_sends_progress_probes_weights_and_each_saved_epoch(mnist, tmp_path):
    data = Mnist(train=mnist.train.head(3000), test=mnist.test)
    sent, result = run_with_hook(data, TrainConfig(epochs=2, limit=3000), tmp_path)
    steps = [m.report for m in sent if isinstance(m, Stepped)]
    assert [s.batch for s in steps[:3]] == [5, 10, 15] and steps[-1].batch == steps[-1].batches == 24
    probes = [m for m in sent if isinstance(m, Probed)]
    assert probes[0].point.train_accuracy is None and probes[0].point.progress == 0
    assert all(int(p.evaluation.confusion.sum()) == 1000 for p in probes)  # the same fixed slice each time
    epochs = [m for m in sent if isinstance(m, EpochEnded)]
    assert [e.record["epoch"] for e in epochs] == [1, 2] and epochs[-1].path == tmp_path / "run.pt"
    last = [m for m in sent if isinstance(m, Weights)][-1].state
    assert all(torch.equal(v, result.model.state_dict()[k]) for k, v in last.items())  # the final weights


@pytest.mark.mnist
def test_each_saved_epoch_carries_the_digit_like_calibration_of_its_own_weights(mnist, tmp_path):
    # failed at 95003f1: a run's checkpoint had no calibration, so Draw needed all of MNIST to flag noise
    data = Mnist(train=mnist.train.head(3000), test=mnist.test)
    run_with_hook(data, TrainConfig(epochs=1, limit=3000), tmp_path, data=data)
    model, ckpt = load_model(tmp_path / "run.pt")
    saved, fresh = of_checkpoint(ckpt), calibration_for(model, data)
    assert saved is not None and saved.threshold == fresh.threshold
    assert torch.equal(saved.means, fresh.means) and torch.equal(saved.sure, fresh.sure)


@pytest.mark.mnist
def test_stop_ends_the_run_before_its_next_batch(mnist, tmp_path):
    stop = threading.Event()
    stop.set()
    sent, result = run_with_hook(Mnist(train=mnist.train.head(2000), test=mnist.test.head(1000)),
                                 TrainConfig(epochs=2, limit=2000), tmp_path, stop=stop)
    assert result.stopped and result.history == [] and not [m for m in sent if isinstance(m, Stepped)]


class CountedPages:
    """Pages being served for the trainer's first `busy` looks (forever if None), counting the looks."""

    def __init__(self, busy: int | None = None) -> None:
        self.busy, self.looks = busy, 0

    @property
    def value(self) -> int:
        self.looks += 1
        return 1 if self.busy is None or self.looks <= self.busy else 0


def test_the_trainer_waits_for_pages_but_never_for_long_and_never_after_stop():
    stop = threading.Event()
    pages = CountedPages(busy=3)
    wait_for_pages(pages, stop, max_wait_s=float("inf"))
    assert pages.looks == 4  # it waited while the pages were served, and went on at the first look they were done
    pages = CountedPages()
    wait_for_pages(pages, stop, max_wait_s=0)
    assert pages.looks == 1  # pages served forever: it still goes on, once its bound has passed
    stop.set()
    pages = CountedPages()
    wait_for_pages(pages, stop, max_wait_s=float("inf"))  # returns: Stop is answered at once
    assert pages.looks == 1  # one look, no sleep: no waiting at all after Stop
