"""JOBS, the server's line of runs (lenet/classroom/jobqueue.py): one at a time, in order, the teacher's
first, and each class sees its own run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lenet.classroom.jobqueue import JobQueue
from lenet.classroom.jobs import Job, JobBusy, new_run
from lenet.classroom.state import RunState, Status
from lenet.config import TrainConfig
from lenet.files import in_class, runs_dir
from tests.conftest import HANG_S, TINY, at_once


class Idle(Job):
    """A Job that starts no process: it just says it runs, until ended by hand."""

    def start(self, on_end=lambda job: None) -> Job:
        self.state.status = Status.RUNNING
        self.on_end = on_end
        return self

    def end(self) -> None:
        self.state.status = Status.FINISHED
        self.on_end(self)


def idle(name: str) -> Idle:
    return Idle(RunState(config=TrainConfig(epochs=1), name=name, folder=runs_dir()))


def job(owner: str | None, first: bool = False) -> Job:
    return Idle(RunState(config=TrainConfig(), name=f"run-{owner}", folder=Path("."), owner=owner, first=first))


def test_a_class_sees_its_own_run_and_is_told_when_another_class_trains(runs):
    queue = JobQueue()
    with in_class("7a"):
        first = queue.start(idle("a"))
        assert queue.current() is first and first.state.class_code == "7a"
    with in_class("7b"):
        assert queue.current() is None  # 7a's run is not 7b's to see
        with pytest.raises(JobBusy) as busy:
            queue.start_first(idle("b"))
        assert busy.value.args[0].key == "job.busy_class" and busy.value.args[0].values["code"] == "7a"
    with in_class("7a"), pytest.raises(JobBusy) as busy:
        queue.start(idle("a2"))
    assert busy.value.args[0].key == "job.busy"
    first.end()
    with in_class("7b"):
        second = queue.start(idle("b"))
    with in_class("7a"):
        assert queue.current() is first  # its last run stays on its page while 7b trains
    with in_class("7b"):
        assert queue.current() is second
    assert queue.current() is None  # no class: it never ran anything

    def looks() -> bool:  # many sessions of both classes asking at once
        for code in ("7a", "7b") * 200:
            with in_class(code):
                if queue.current() is not (first if code == "7a" else second):
                    return False
        return True

    assert all(at_once(looks, threads=4))


@pytest.mark.mnist
@pytest.mark.process
def test_queued_runs_go_one_after_another_and_start_says_busy(tmp_path):
    queue = JobQueue()
    first = queue.enqueue(new_run(replace(TINY, epochs=100, limit=60_000), tmp_path))  # long: stopped below
    second = queue.enqueue(new_run(replace(TINY, seed=1), tmp_path))
    third = queue.enqueue(new_run(replace(TINY, seed=2), tmp_path))
    dropped = queue.enqueue(new_run(replace(TINY, seed=3), tmp_path))
    assert [j.snapshot().status for j in (second, third, dropped)] == [Status.QUEUED] * 3
    assert queue.waiting() == [second, third, dropped]
    with pytest.raises(JobBusy):
        queue.start(new_run(TINY, tmp_path))
    dropped.stop(by="teacher")  # a queued run never starts
    assert dropped.snapshot().status is Status.STOPPED and queue.waiting() == [second, third]
    first.stop()
    for job in (first, second, third):
        assert job.join(HANG_S), job.snapshot()
    assert [j.snapshot().status for j in (first, second, third)] == [Status.STOPPED, Status.FINISHED, Status.FINISHED]
    assert second.snapshot().started <= third.snapshot().started and queue.current() is third
    assert queue.waiting() == [] and dropped.snapshot().checkpoint is None


def test_the_teacher_goes_first_and_each_student_waits_with_one_design():
    queue = JobQueue()
    going, ann, bob = queue.enqueue(job("ann")), queue.enqueue(job("ann-2")), queue.enqueue(job("bob"))
    with pytest.raises(JobBusy) as err:
        queue.enqueue(job("bob"))
    assert err.value.args[0].key == "board.one_each" and "run-bob" in str(err.value)
    teacher, again = queue.enqueue(job("teacher", first=True)), queue.enqueue(job("teacher-2", first=True))
    assert queue.waiting() == [teacher, again, ann, bob]  # the teacher's ahead of every student's, in order
    assert [queue.place(j) for j in (going, teacher, again, ann, bob)] == [0, 1, 2, 3, 4]
    assert [s.name for s in queue.ahead_of(ann)] == ["run-ann", "run-teacher", "run-teacher-2"]
    bob.stop(by="bob")  # out of the line: he may queue another
    assert queue.place(bob) is None and queue.holding("bob") is None
    queue.enqueue(job("bob"))
    assert queue.holding("ann") is going


def test_the_teacher_s_start_waits_only_for_a_student_s_design():
    queue = JobQueue()
    design, waiting = queue.enqueue(job("ann")), queue.enqueue(job("bob"))
    teacher = queue.start_first(job(None))  # Train's Start while Ann's design trains: next in line
    assert teacher.state.first and queue.waiting() == [teacher, waiting] and queue.place(teacher) == 1
    alone = JobQueue()
    own = alone.start_first(job(None))
    assert alone.place(own) == 0  # nothing training: it starts at once
    with pytest.raises(JobBusy) as err:
        alone.start_first(job(None))  # the teacher's own run trains: one at a time, as before
    assert err.value.args[0].key == "job.busy"
    assert design.state.status is Status.RUNNING


def test_a_design_tried_for_the_board_never_takes_the_train_page(runs):
    # failed at 95003f1: a student's design became the projector's "finished run"
    queue = JobQueue()
    teachers = queue.start(idle("teachers"))
    teachers.end()
    design = Idle(RunState(config=TrainConfig(epochs=1), name="design", folder=runs_dir(), board=True))
    queue.start(design)
    assert queue.current() is teachers  # while the design trains
    design.end()
    assert queue.current() is teachers  # and once it has finished
    fresh = JobQueue()
    fresh.start(Idle(RunState(config=TrainConfig(epochs=1), name="only", folder=runs_dir(), board=True))).end()
    assert fresh.current() is None  # no run of the class's own: the page has none to show
