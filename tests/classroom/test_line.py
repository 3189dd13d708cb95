"""The line every replica keeps: the teacher's run next across replicas, one design each."""
from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import replace

import pytest

from lenet.classroom import replicas
from lenet.classroom.jobqueue import JobQueue
from lenet.classroom.jobs import Job, JobBusy, new_run
from lenet.classroom.state import Status
from tests.conftest import HANG_S, TINY, eventually


def _r2_students(env: dict[str, str], ready, results) -> None:
    """Replica r2, in a process of its own: ann's design trains (long), bob's waits behind it."""
    os.environ.update(env)
    queue = JobQueue()
    ann = queue.enqueue(Job(replace(new_run(replace(TINY, epochs=100, limit=60_000)).state, owner="ann")))
    bob = queue.enqueue(Job(replace(new_run(TINY).state, owner="bob")))
    assert eventually(lambda: ann.snapshot().status is Status.RUNNING)
    ready.set()
    assert ann.join(HANG_S) and bob.join(HANG_S)
    results.put((bob.snapshot().started, bob.snapshot().status.value))


@pytest.mark.mnist
@pytest.mark.process
def test_the_teacher_goes_next_across_replicas_and_each_student_has_one_design(shared, monkeypatch, runs):
    # failed at 0ffbb93: r1 took a second design from ann while hers trained on r2 (and, as the issue
    # found, refused the teacher's Start while a student's design trained on another replica)
    ctx = mp.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    env = {"LENET_RUNS": str(runs), "REDIS_URL": os.environ["REDIS_URL"], replicas.ENV: "r2"}
    r2 = ctx.Process(target=_r2_students, args=(env, ready, results))
    r2.start()
    assert ready.wait(HANG_S)
    r1 = JobQueue()
    for student in ("ann", "bob"):  # ann's design trains on r2, bob's waits there: neither may add one here
        with pytest.raises(JobBusy) as busy:
            r1.enqueue(Job(replace(new_run(TINY, runs).state, owner=student)))
        assert busy.value.args[0].key == "board.one_each"
    teacher = r1.start_first(new_run(TINY, runs))  # next in line, ahead of bob's design on r2
    cat = r1.enqueue(Job(replace(new_run(TINY, runs).state, owner="cat")))  # behind bob's, though bob is on r2
    assert teacher.snapshot().status is Status.QUEUED and r1.place(teacher) == 1 and r1.place(cat) == 3
    replicas.remote_run(None).stop(by="teacher")  # ann's design ends
    assert teacher.join(HANG_S) and teacher.snapshot().status is Status.FINISHED
    bob_started, bob_status = results.get(timeout=HANG_S)
    r2.join(HANG_S)
    assert bob_status == "finished" and teacher.snapshot().ended <= bob_started  # the teacher's went first
    assert cat.join(HANG_S) and cat.snapshot().started >= bob_started  # then bob's, then cat's
