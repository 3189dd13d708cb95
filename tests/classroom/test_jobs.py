"""Runs on the server: started, queued, continued and stopped through JOBS, each in a real training
process speaking typed events (protocol.py), and the state the pages read."""
import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

from lenet.checkpoints import load_checkpoint, load_model
from lenet.classroom import collection
from lenet.classroom.jobqueue import JobQueue
from lenet.classroom.jobs import Job, continued_run, finetune_run, new_run
from lenet.classroom.protocol import (
    Began,
    EpochEnded,
    Filmed,
    Finished,
    Frame,
    Probe,
    Probed,
    Said,
    Stepped,
    Stopped,
    Weights,
)
from lenet.classroom.state import MAX_FRAMES, RunState, Status
from lenet.files import CHECKPOINT_DIR
from lenet.messages import Message
from lenet.train import BatchReport, EvalResult
from tests.conftest import HANG_S, TINY


def state(epochs: int = 2) -> RunState:
    return RunState(config=replace(TINY, epochs=epochs), name="run", folder=CHECKPOINT_DIR)


def test_the_state_follows_the_events_one_kind_at_a_time(tmp_path):
    job = Job(state())
    report = BatchReport(epoch=1, batch=5, batches=10, loss=0.5, accuracy=0.8, samples_per_s=100.0, elapsed_s=2.0)
    ev = EvalResult(loss=0.1, accuracy=0.9, confusion=torch.zeros(10, 10, dtype=torch.long), predicted=torch.zeros(3),
                    confidence=torch.zeros(3))
    frame = Frame(samples=0, progress=0.0, filters=np.zeros((6, 1, 5, 5), np.float32), maps={})
    said = Message("data.loading")
    for message in (Said(said), Began(), Stepped(report), Weights({"w": torch.ones(1)}),
                    Probed(point=Probe(progress=0.5, train_accuracy=0.8, eval_accuracy=0.9, eval_loss=0.1),
                           evaluation=ev), Filmed(frame),
                    EpochEnded(record={"epoch": 1, "eval_accuracy": 0.9}, evaluation=ev, path=tmp_path / "run.pt")):
        assert job._apply(message) is False
    snap = job.snapshot()
    assert snap.status is Status.RUNNING and snap.message.key == "job.training"
    probe = Probe(progress=0.5, train_accuracy=0.8, eval_accuracy=0.9, eval_loss=0.1)
    assert snap.batches == [report] and snap.probes == [probe] and snap.live is ev
    assert snap.frames == [frame] and snap.epochs == [{"epoch": 1, "eval_accuracy": 0.9}]
    assert snap.checkpoint == tmp_path / "run.pt" and job.has_live_model()
    assert snap.done == pytest.approx(0.25) and snap.eta_s == pytest.approx(6.0)  # 5 of 20 batches in 2 s
    snap.batches.append(report)
    assert len(job.snapshot().batches) == 1  # a snapshot is a copy: the page can't change the run
    assert job._apply(Finished(tmp_path / "run.pt")) is True
    done = job.snapshot()
    assert done.status is Status.FINISHED and done.done == 1.0 and done.eta_s is None
    assert done.message == "Finished; saved as run."


def test_stopping_says_who_and_what_was_kept(tmp_path):
    job = Job(state())
    job._apply(Began())
    job.stop(by="session-1")
    assert job.snapshot().status is Status.STOPPING and job.snapshot().stopped_by == "session-1"
    job._apply(Began())  # a late word from the process doesn't undo Stop
    assert job.snapshot().status is Status.STOPPING
    job._apply(Stopped())
    assert job.snapshot().status is Status.STOPPED and job.snapshot().message.key == "job.stopped_nothing"
    again = Job(state())
    again._apply(EpochEnded(record={"epoch": 1}, evaluation=None, path=tmp_path / "kept.pt"))
    again._apply(Stopped())
    assert again.snapshot().message == "Stopped; epoch 1 is saved as kept."


def test_a_long_run_keeps_an_evenly_spaced_film_and_the_newest_frame():
    job = Job(state())
    sent = [Frame(samples=500 * i, progress=i / 120, filters=np.zeros((6, 1, 5, 5), np.float32), maps={})
            for i in range(1000)]
    for frame in sent:
        job._apply(Filmed(frame))
    film = job.snapshot().frames
    assert len(film) <= MAX_FRAMES + 1 and film[0] is sent[0] and film[-1] is sent[-1]
    gaps = {b.samples - a.samples for a, b in itertools.pairwise(film[:-1])}
    assert len(gaps) == 1  # evenly spaced, whatever thinning happened


def test_statuses_say_which_are_alive():
    assert {s for s in Status if s.active} == {Status.LOADING, Status.RUNNING, Status.STOPPING}
    assert {s for s in Status if s.ended} == {Status.STOPPED, Status.FINISHED, Status.FAILED}
    with pytest.raises(ValueError, match="epochs must be from 1 to 100"):
        new_run(replace(TINY, epochs=0))


@pytest.mark.mnist
@pytest.mark.process
def test_a_run_continues_into_the_same_file_and_the_live_model_follows(tmp_path):
    queue = JobQueue()
    job = queue.start(new_run(TINY, tmp_path))
    assert job.join(HANG_S)
    first = job.snapshot()
    assert first.status is Status.FINISHED, first.message
    job = queue.start(continued_run(first.checkpoint, epochs=1))
    assert job.join(HANG_S)
    snap = job.snapshot()
    assert snap.status is Status.FINISHED and snap.checkpoint == first.checkpoint and snap.first_epoch == 2
    assert [e["epoch"] for e in load_checkpoint(snap.checkpoint)["history"]] == [1, 2]
    assert snap.probes and snap.live is not None  # live points reached the server from the training process
    assert snap.frames[0].progress == 1.0 and snap.frames[-1].samples == 2000  # the film of the continued epoch
    saved, _ = load_model(snap.checkpoint)
    live = job.live_model()
    assert all(torch.equal(a, b) for a, b in zip(live.state_dict().values(), saved.state_dict().values(),
                                                 strict=True))


@pytest.mark.mnist
@pytest.mark.process
def test_a_fine_tune_with_damaged_drawings_finishes_and_counts_them(tmp_path, digits):
    images, labels = digits
    folder = tmp_path / "class"
    saved = [collection.save(folder, images[i], int(labels[i])) for i in range(40)]
    saved[0].path.write_bytes(b"")  # a zero-byte image: read before, it failed the whole run
    job = JobQueue().start(finetune_run(CHECKPOINT_DIR / "lenet5.pt", folder, layers="classifier", epochs=1,
                                        replay=500, runs=tmp_path))
    assert job.join(HANG_S)
    snap = job.snapshot()
    assert snap.status is Status.FINISHED, snap.message
    assert snap.finetune["damaged"] == 1 and snap.finetune["train_count"] + snap.finetune["held_count"] == 39
    assert snap.name.endswith("-lenet5-class") and snap.first_epoch == 13
