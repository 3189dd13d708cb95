"""Replicas sharing one LENET_RUNS: the training lock (one run at a time, across processes), a run
published by its replica and read by another, a Stop pressed on the other replica, and a second
Start there refused with who trains. The browser test of the same, through nginx, is
tests/browser/test_replicas.py."""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import time
from dataclasses import replace

import pytest
import torch

from lenet.classroom import replicas
from lenet.classroom.jobqueue import JobQueue
from lenet.classroom.jobs import JobBusy, new_run
from lenet.classroom.state import RunState, Status
from lenet.config import TrainConfig
from tests.conftest import HANG_S, TINY, Exploit, eventually


def state(name: str, owner: str | None = None) -> RunState:
    return RunState(config=TrainConfig(epochs=1), name=name, folder=replicas.runs_root(), owner=owner)


def _racer(runs: str, name: str, start, results) -> None:
    os.environ["LENET_RUNS"] = runs
    start.wait()
    results.put((name, replicas.take(state(f"run-{name}"), name)))


@pytest.mark.process  # spawned replicas, each importing torch
def test_of_replicas_taking_the_lock_at_once_exactly_one_gets_it(runs):
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    racers = [ctx.Process(target=_racer, args=(str(runs), f"r{i}", start, results)) for i in range(4)]
    for p in racers:
        p.start()
    start.set()
    answers = dict(results.get(timeout=60) for _ in racers)
    for p in racers:
        p.join(60)
    winners = [name for name, held in answers.items() if held is None]
    assert len(winners) == 1
    assert all(held.replica == winners[0] and held.run == f"run-{winners[0]}" for held in answers.values() if held)
    assert replicas.holder().replica == winners[0]


def _takes_and_dies(runs: str) -> None:
    os.environ["LENET_RUNS"] = runs
    assert replicas.take(state("a"), "r1") is None  # then the process ends, and its lock's heartbeat with it


@pytest.mark.process  # spawned replicas, each importing torch
def test_the_lock_is_given_back_only_by_its_holder_and_a_dead_replicas_lock_lapses(runs):
    r1 = mp.get_context("spawn").Process(target=_takes_and_dies, args=(str(runs),))
    r1.start()
    r1.join(60)
    assert r1.exitcode == 0
    held = replicas.take(state("b", owner="student"), "r2")
    assert (held.replica, held.run, held.teacher) == ("r1", "a", True)
    replicas.release("a", "r2")  # not r2's to give back
    replicas.release("b", "r1")  # nor a run r1 isn't training
    assert replicas.holder().run == "a"
    lock = runs / ".training" / "lock"
    old = time.time() - replicas.STALE_S - 1
    os.utime(lock, (old, old))  # r1 died: nobody refreshed its lock
    assert replicas.holder() is None
    assert replicas.take(state("b"), "r2") is None and replicas.holder().replica == "r2"
    replicas.release("b", "r2")
    assert replicas.holder() is None and not lock.exists()
    assert [p.name for p in (runs / ".training").iterdir()] == []  # nothing left aside


def test_a_live_replicas_lock_stays_fresh_though_its_run_has_no_news(runs, monkeypatch):
    monkeypatch.setattr(replicas, "STALE_S", 0.5)  # the heartbeat's thread would have to be starved for this long
    monkeypatch.setattr(replicas, "BEAT_S", 0.05)
    assert replicas.take(state("slow"), "r1") is None
    time.sleep(2 * replicas.STALE_S)  # nothing published: a long evaluation on a loaded server
    assert replicas.holder().replica == "r1"
    assert replicas.take(state("b"), "r2").run == "slow"
    replicas.release("slow", "r1")
    assert replicas.holder() is None


@pytest.mark.mnist
@pytest.mark.process
def test_a_run_on_one_replica_is_seen_stopped_and_refused_on_another(runs, monkeypatch):
    monkeypatch.setenv(replicas.ENV, "r1")
    first = JobQueue()
    job = first.start(new_run(replace(TINY, epochs=100, limit=60_000), runs))  # long: stopped below
    monkeypatch.setenv(replicas.ENV, "r2")  # from here on, this process is the other replica
    assert replicas.remote_run(None) is not None and JobQueue().current() is not None
    other = JobQueue()
    assert eventually(lambda: other.current().snapshot().probes and other.current().has_live_model()), \
        other.current().snapshot()  # the live points and weights reached r2
    seen = other.current()
    assert isinstance(seen, replicas.RemoteJob) and seen.snapshot().name == job.state.name
    assert seen.snapshot().status is Status.RUNNING and seen.live_model() is not None
    with pytest.raises(JobBusy) as busy:
        other.start_first(new_run(TINY, runs))
    assert busy.value.args[0].key == "job.busy_elsewhere" and busy.value.args[0].values["replica"] == "r1"
    seen.stop(by="teacher-on-r2")
    assert job.join(HANG_S) and seen.join(HANG_S)
    mine, theirs = job.snapshot(), seen.snapshot()
    assert mine.status is theirs.status is Status.STOPPED and theirs.stopped_by == "teacher-on-r2"
    assert len(theirs.batches) == len(mine.batches) and theirs.probes == mine.probes  # the last word was published
    ours = job.live_model().state_dict()
    assert all(torch.equal(ours[k], v) for k, v in seen.live_model().state_dict().items())
    assert eventually(lambda: replicas.holder() is None)  # r1's queue gives the lock back once the run has ended
    again = other.start(new_run(TINY, runs))  # r2 may train now
    assert again.join(HANG_S) and again.snapshot().status is Status.FINISHED
    monkeypatch.setenv(replicas.ENV, "r1")
    assert first.current() is not job and first.current().snapshot().name == again.state.name  # r1 sees r2's


def test_a_hostile_file_in_the_shared_folder_never_runs_and_is_not_a_run(runs, monkeypatch):
    """What a replica reads from the shared folder is plain data (torch.load with weights_only): a
    pickle that would run a command, inside torch's format or bare, is refused, and no run is shown."""
    monkeypatch.chdir(runs)
    monkeypatch.setenv(replicas.ENV, "r2")
    folder = runs / ".training"
    folder.mkdir()
    torch.save({"replica": "r1", "state": Exploit(), "weights": None}, folder / f"{replicas.NO_CLASS}.run")
    assert replicas.remote_run(None) is None
    (folder / f"{replicas.NO_CLASS}.run").write_bytes(pickle.dumps(Exploit()))
    assert replicas.remote_run(None) is None
    assert not (runs / "pwned").exists()
