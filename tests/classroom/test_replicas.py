"""Replicas sharing a real redis-server: the training lock (one run at a time, across processes,
with a lease that ends with its run's process), a run published by its replica and read by
another, a Stop pressed on the other replica for that run only, a dead replica's run shown
stopped, and hostile bytes in the store refused. The browser test of the same, through nginx,
is tests/browser/test_replicas.py."""
from __future__ import annotations

import io
import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
from dataclasses import replace

import pytest
import torch

from deploy.redis import redis_server
from deploy.replicas import free_ports
from lenet.classroom import jobs, replicas
from lenet.classroom.jobqueue import JobQueue
from lenet.classroom.jobs import Job, JobBusy, new_run
from lenet.classroom.state import RunState, Status
from lenet.config import TrainConfig
from lenet.files import runs_root
from tests.conftest import HANG_S, TINY, Exploit, eventually


def state(name: str, owner: str | None = None, started: float | None = None) -> RunState:
    made = RunState(config=TrainConfig(epochs=1), name=name, folder=runs_root(), owner=owner)
    return made if started is None else replace(made, started=started)


def _racer(name: str, start, results) -> None:
    start.wait()
    taken = replicas.take(state(f"run-{name}"), name)
    results.put((name, None if isinstance(taken, replicas.Lease) else taken))


@pytest.mark.process  # forked replicas
def test_of_eight_replicas_taking_the_lock_at_once_exactly_one_gets_it(shared):
    ctx = mp.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    racers = [ctx.Process(target=_racer, args=(f"r{i}", start, results)) for i in range(8)]
    for p in racers:
        p.start()
    start.set()
    answers = dict(results.get(timeout=HANG_S) for _ in racers)
    for p in racers:
        p.join(HANG_S)
    winners = [name for name, held in answers.items() if held is None]
    assert len(winners) == 1
    assert all(held.replica == winners[0] and held.run == f"run-{winners[0]}" for held in answers.values() if held)
    assert replicas.holder().replica == winners[0]


def _holds_until_killed(ready) -> None:
    lease = replicas.take(state("a"), "r1")
    replicas.keep(lease, lambda: True)  # a run that would go on for ever
    ready.set()
    time.sleep(HANG_S)


@pytest.mark.process
def test_a_holder_killed_with_kill_9_frees_the_lock_within_its_lease(shared, monkeypatch):
    monkeypatch.setattr(replicas, "LEASE_S", 2.0)
    monkeypatch.setattr(replicas, "RENEW_S", 0.25)
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    r1 = ctx.Process(target=_holds_until_killed, args=(ready,))
    r1.start()
    assert ready.wait(HANG_S)
    time.sleep(2 * replicas.LEASE_S)  # renewed all along: a live holder keeps it
    assert replicas.holder().run == "a"
    os.kill(r1.pid, signal.SIGKILL)
    r1.join(HANG_S)
    assert eventually(lambda: replicas.holder() is None, every_s=0.05)
    assert isinstance(replicas.take(state("b"), "r2"), replicas.Lease)


def test_the_lock_is_given_back_only_by_its_holder(shared):
    lease = replicas.take(state("a"), "r1")
    held = replicas.take(state("b", owner="student"), "r2")
    assert (held.replica, held.run, held.teacher) == ("r1", "a", True)
    replicas.Lease(value=lease.value.replace("a", "b", 1)).release()  # a forged token gives nothing back
    assert replicas.holder().run == "a"
    lease.release()
    assert replicas.holder() is None
    lease.release()  # twice: nothing, and never another's lock
    mine = replicas.take(state("c"), "r2")
    lease.release()
    assert replicas.holder().run == "c" and isinstance(mine, replicas.Lease)


# ---- a leaked lock is impossible: the three paths that never reached `_next` ------------------

@pytest.fixture
def short_lease(shared, monkeypatch):
    monkeypatch.setattr(replicas, "LEASE_S", 1.0)
    monkeypatch.setattr(replicas, "RENEW_S", 0.2)


def _free_soon() -> bool:
    """The lock is given back (it stays taken for ever if it leaked: then this waits HANG_S)."""
    return eventually(lambda: replicas.holder() is None, every_s=0.05)


def test_a_start_that_raises_after_taking_the_lock_leaks_nothing(short_lease, monkeypatch, runs):
    # failed at 0ffbb93: take() started the lock's heartbeat, and only _next, never reached, ended it
    def broken():
        raise RuntimeError("no process today")

    monkeypatch.setattr(jobs, "context", broken)
    with pytest.raises(RuntimeError):
        JobQueue().start(new_run(TINY, runs))
    assert _free_soon()


def test_a_run_stopped_between_the_two_ended_checks_leaks_nothing(short_lease, monkeypatch, runs):
    # failed at 0ffbb93: start() returned early for the stopped run, and nobody gave the lock back
    job, take = new_run(TINY, runs), replicas.take

    def take_then_stop(run_state, name):
        taken = take(run_state, name)
        job.stop(by="teacher")  # Stop pressed just after the queue took the lock for it
        return taken

    monkeypatch.setattr(replicas, "take", take_then_stop)
    JobQueue().start(job)
    assert job.snapshot().status is Status.STOPPED and _free_soon()


@pytest.mark.mnist
@pytest.mark.process
def test_an_after_that_raises_leaks_nothing_and_the_queue_goes_on(short_lease, runs):
    # failed at 0ffbb93: the listener died in `after` before on_end, so _next never gave the lock back
    def after(final: RunState) -> None:
        raise RuntimeError("the board was unreachable")

    queue = JobQueue()
    job = queue.start(Job(new_run(TINY, runs).state, after=after))
    waiting = queue.enqueue(new_run(TINY, runs))
    assert job.join(HANG_S) and waiting.join(HANG_S)
    assert waiting.snapshot().status is Status.FINISHED  # the next in line trained
    assert _free_soon()


# ---- the run, as every other replica sees it --------------------------------------------------

def test_a_stop_request_never_stops_a_later_run_of_the_same_name(shared, monkeypatch):
    first = Job(state("same", started=1000.0))
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    replicas.Publisher(first, "r1")(force=True)
    monkeypatch.setattr(replicas, "PROCESS", "r2-process")
    replicas.remote_run(None).stop(by="teacher-on-r2")  # r2 asks r1 to stop "same", started at 1000
    later = Job(state("same", started=2000.0))  # meanwhile r1 began the same name again
    replicas.Publisher(later, "r1")(force=True)
    assert later.snapshot().status is Status.QUEUED  # not stopped: the request named the other start
    replicas.Publisher(first, "r1")(force=True)
    assert first.snapshot().status is Status.STOPPED and first.snapshot().stopped_by == "teacher-on-r2"


def test_a_dead_replica_s_run_is_shown_stopped_at_its_last_saved_epoch(shared, monkeypatch, runs):
    going = Job(replace(state("died"), status=Status.RUNNING, epochs=[{"epoch": 1}, {"epoch": 2}],
                        checkpoint=runs / "died.pt"))
    going.lease = replicas.take(going.state, "r1")
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    replicas.Publisher(going, "r1")(force=True)
    monkeypatch.setenv(replicas.ENV, "r2")
    monkeypatch.setattr(replicas, "PROCESS", "r2-process")
    seen = replicas.remote_run(None)
    assert seen.snapshot().status is Status.RUNNING
    shared.delete(replicas.LOCK)  # r1 died: its lease lapsed
    shown = seen.snapshot()
    assert shown.status is Status.STOPPED and shown.message.key == "job.server_stopped_saved"
    assert str(shown.message) == "Stopped: its server stopped. Epoch 2 is saved as died."
    assert not seen.has_live_model() and seen.live_model() is None and seen.join(0)


@pytest.mark.mnist
@pytest.mark.process
def test_a_run_on_one_replica_is_seen_stopped_and_refused_on_another(shared, monkeypatch, runs):
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    first = JobQueue()
    job = first.start(new_run(replace(TINY, epochs=100, limit=60_000), runs))  # long: stopped below
    monkeypatch.setenv(replicas.ENV, "r2")  # from here on, this process is the other replica
    monkeypatch.setattr(replicas, "PROCESS", "r2-process")
    other = JobQueue()
    assert eventually(lambda: other.current() is not None and other.current().snapshot().probes
                      and other.current().has_live_model())  # the live points and weights reached r2
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
    assert torch.equal(theirs.evaluation.confusion, mine.evaluation.confusion) if mine.evaluation else True
    ours = job.live_model().state_dict()
    assert all(torch.equal(ours[k], v) for k, v in seen.live_model().state_dict().items())
    assert eventually(lambda: replicas.holder() is None)  # r1's queue gives the lock back once the run has ended
    again = other.start(new_run(TINY, runs))  # r2 may train now
    assert again.join(HANG_S) and again.snapshot().status is Status.FINISHED
    monkeypatch.setenv(replicas.ENV, "r1")
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    assert first.current() is not job and first.current().snapshot().name == again.state.name  # r1 sees r2's


def test_hostile_bytes_in_the_store_never_run_and_are_not_a_run(shared, monkeypatch, tmp_path):
    """What a replica reads from the store is JSON and torch.load with weights_only: a pickle that
    would run a command, inside torch's format or bare, is refused, and no run is shown."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(replicas, "_read", {})  # nothing read before: a replica keeps showing the last good run
    run = replicas.key("run", replicas.NO_CLASS)
    for tensors in (_torch_exploit(), pickle.dumps(Exploit())):
        shared.hset(run, mapping={"replica": "r9", "process": "elsewhere", "version": str(time.time_ns()),
                                  "state": "{}", "tensors": tensors})
        assert replicas.remote_run(None) is None
    assert not (tmp_path / "pwned").exists()


def _torch_exploit() -> bytes:
    buffer = io.BytesIO()
    torch.save({"weights": Exploit(), "live": None, "evaluation": None}, buffer)
    return buffer.getvalue()


@pytest.mark.mnist
@pytest.mark.process
def test_redis_restarted_mid_lesson_pages_keep_answering_and_the_run_returns(runs, monkeypatch):
    port = free_ports(0)
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv(replicas.ENV, "r1")
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    with redis_server(port):
        job = JobQueue().start(new_run(replace(TINY, epochs=100, limit=60_000), runs))  # long: stopped below
        monkeypatch.setenv(replicas.ENV, "r2")
        monkeypatch.setattr(replicas, "PROCESS", "r2-process")
        other = JobQueue()
        assert eventually(lambda: other.current() is not None and other.current().has_live_model())
        seen = other.current()
    # the store is gone: r2's pages still show the run and draw with its last weights, at once
    assert other.current() is not None and seen.snapshot().status is Status.RUNNING
    assert seen.live_model()(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert job.snapshot().status is Status.RUNNING  # r1 trains on
    before = len(seen.snapshot().batches)
    with redis_server(port):  # back, empty, on the same address
        assert eventually(lambda: len(other.current().snapshot().batches) > before, every_s=0.05)
        assert replicas.holder().replica == "r1"  # the holder took its lock back
        other.current().stop(by="teacher-on-r2")
        assert job.join(HANG_S)


def test_a_page_run_reads_a_few_bytes_until_the_run_changes(shared, monkeypatch):
    # failed before its fix (this first version): every call fetched the weights and film whole
    job = Job(replace(state("big"), status=Status.RUNNING))
    job._weights = {"w": torch.zeros(100_000)}  # 400 KB of live weights, as a lenet5's are
    job.lease = replicas.take(job.state, "r1")
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    replicas.Publisher(job, "r1")(force=True)
    monkeypatch.setattr(replicas, "PROCESS", "r2-process")
    seen = replicas.remote_run(None)
    assert seen.has_live_model() and seen.snapshot().status is Status.RUNNING  # read once, whole
    sent = shared.info("stats")["total_net_output_bytes"]
    for _ in range(100):  # a class's page runs, the run unchanged
        seen.snapshot(), seen.has_live_model()
    assert shared.info("stats")["total_net_output_bytes"] - sent < 100_000  # not 100 × 400 KB


def test_two_threads_telling_at_once_leave_the_newer_run_published(shared, monkeypatch):
    # failed at 7ce8d5c (a fresh-clone CI run): a Stop pressed on r1 published "stopping" while the run's last
    # word published "stopped"; the older copy was written last, and r2's pickers offered the live model for ever
    job = Job(replace(state("told-twice"), status=Status.STOPPING))
    job.lease = replicas.take(job.state, "r1")  # r1 holds it: r2 shows the run as published, not as a dead one's
    copied, second_done = threading.Event(), threading.Event()
    taken = job.snapshot

    def slow_first_copy() -> RunState:  # the first teller is slow between its copy and its write
        snap = taken()
        if not copied.is_set():
            copied.set()
            second_done.wait(1.0)  # with one write at a time, the second waits on the first: a bound, not a timing
        return snap

    monkeypatch.setattr(job, "snapshot", slow_first_copy)
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    publisher = replicas.Publisher(job, "r1")
    first = threading.Thread(target=publisher, kwargs={"force": True})
    first.start()
    assert copied.wait(HANG_S)
    job.state.status = Status.STOPPED  # the last word, told while the first copy is on its way
    second = threading.Thread(target=lambda: (publisher(force=True), second_done.set()))
    second.start()
    first.join(HANG_S), second.join(HANG_S)
    monkeypatch.setattr(replicas, "PROCESS", "r2-process")
    assert replicas.remote_run(None).snapshot().status is Status.STOPPED
