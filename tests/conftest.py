"""Shared fixtures, and the tiers: `make test-fast` skips tests marked mnist, browser, app or process.

Integration tests read the real MNIST files that `make test` fetches. A test that asks for the
`mnist` fixture is marked `mnist` here automatically; tests that read MNIST another way carry
the mark themselves.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deploy.redis import redis_path, redis_server
from deploy.replicas import free_ports
from lenet.classroom import collection
from lenet.classroom.store import store
from lenet.config import TrainConfig
from lenet.data import Mnist, Split, ensure_mnist, load_mnist, normalise, sample_digits
from lenet.files import ROOT
from lenet.train import Hook

HANG_S = 300.0  # a guard against a hang, far beyond what any wait here takes on any machine: never a timing target
TINY = TrainConfig(epochs=1, limit=2000)  # a real run on the real MNIST in a few seconds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "mnist" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The whole of MNIST in memory (fetched first if needed, never mocked)."""
    ensure_mnist()
    return load_mnist()


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 100 MNIST test digits (uint8, 100×28×28) and labels: a fixture cut from MNIST,
    shipped in lenet/assets, so the fast tier has real digits without the dataset."""
    return sample_digits()


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh LENET_RUNS of the test's own: its saved runs, collections, boards and classes."""
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real redis-server (Debian's), started for the session on a free port, as
    `make serve-replicas` starts one: never a mock."""
    if redis_path() is None:
        pytest.skip("needs Debian's redis-server: `sudo apt-get install redis-server` (.ci/run installs it)")
    with redis_server(free_ports(0)) as url:
        yield url


@pytest.fixture
def shared(redis_url: str, runs: Path, monkeypatch: pytest.MonkeyPatch):
    """This process as replica r1 of a server whose replicas share an empty store."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("LENET_REPLICA", "r1")
    found = store()
    found.flushdb()
    return found


@pytest.fixture
def confirmed(tmp_path: Path, digits) -> list[collection.Item]:
    """A class collection in tmp_path: twenty of the shipped test digits, each confirmed as its label."""
    images, labels = digits
    return [collection.save(tmp_path, images[i], int(labels[i]), predicted=int(labels[i])) for i in range(20)]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _whole_apps_are_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole-app AppTest takes seconds (the router warms torchvision): one left unmarked put 6 s
    into `make test-fast`. An unmarked test that starts one fails and says why."""
    testing = sys.modules.get("streamlit.testing.v1")
    if testing is None or request.node.get_closest_marker("app"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError(f"{request.node.nodeid} runs a whole-app AppTest: mark it @pytest.mark.app")

    monkeypatch.setattr(testing.AppTest, "from_file", refuse)


class Clock:
    """A clock a test moves by hand: `clock.now += 60` is a minute later."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def at_once(work, threads: int = 4) -> list:
    """Run `work()` in `threads` threads released together; their results, in no set order.
    A thread's exception is raised here (it would otherwise vanish with its thread)."""
    barrier, results, errors = threading.Barrier(threads), [], []

    def run() -> None:
        barrier.wait()
        try:
            results.append(work())
        except Exception as err:  # noqa: BLE001 (raised below)
            errors.append(err)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    if errors:
        raise errors[0]
    return results



def eventually(condition, every_s: float = 0.1) -> bool:
    """Wait until `condition()` holds (what another process or thread does shows up in its own
    time); False only if it never does, within HANG_S. Tests assert what it waited for, not when."""
    deadline = time.monotonic() + HANG_S
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every_s)
    return True


def digits_data(digits) -> Mnist:
    """The 100 shipped MNIST test digits as a tiny dataset, for fast-tier runs of the loop."""
    images, labels = digits
    split = Split(x=normalise(torch.from_numpy(images)), y=torch.from_numpy(labels.astype(np.int64)))
    return Mnist(train=split, test=split)


class Recorder(Hook):
    """Keeps every report the loop offers; stops before batch `stop_at` of the first epoch."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.batches, self.epochs, self.stop_at, self.before = [], [], stop_at, 0

    def before_batch(self, progress) -> bool:
        self.before += 1
        return self.stop_at is None or progress.batch < self.stop_at

    def after_batch(self, progress) -> None:
        self.batches.append(progress.report())

    def after_epoch(self, progress, report) -> None:
        self.epochs.append(report)


def lenet(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m lenet ARGS` as a user runs it, in a process of its own; it never shows a traceback."""
    done = subprocess.run([sys.executable, "-m", "lenet", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    if check:
        assert done.returncode == 0, done.stderr
    return done


class Exploit:
    """A pickle that runs a command when it is loaded: it makes a file named pwned in the working folder."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))
