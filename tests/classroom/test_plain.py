"""A run as plain data (lenet/classroom/plain.py): what one replica writes for the others goes
through torch.save and torch.load(weights_only=True) and comes back the same run."""
from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lenet.classroom.plain import frames_from_plain, frames_plain, run_from_plain, run_plain
from lenet.classroom.protocol import FineTuning, Frame, Probe
from lenet.classroom.state import RunState, Status
from lenet.config import TrainConfig
from lenet.messages import Message
from lenet.train import BatchReport, EvalResult


def through_a_file(data):
    """Written as a replica writes it, read as another reads it: no pickle of any object of ours."""
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return torch.load(io.BytesIO(buffer.getvalue()), map_location="cpu", weights_only=True)


def evaluation(seed: int) -> EvalResult:
    g = torch.Generator().manual_seed(seed)
    return EvalResult(loss=0.25, accuracy=0.93, confusion=torch.randint(0, 9, (10, 10), generator=g),
                      predicted=torch.randint(0, 10, (20,), generator=g), confidence=torch.rand(20, generator=g))


def a_whole_run() -> RunState:
    """A run with every field set: a design, a fine-tuning, a nested message, reports and scores."""
    return RunState(config=TrainConfig(design="c6k5-m2-f84", activation="tanh", epochs=3), name="run-7b",
                    folder=Path("/runs/classes/7b"), first_epoch=2,
                    tuning=FineTuning(source=Path("/shipped/lenet5.pt"), folder=Path("/runs/class"), replay=500),
                    status=Status.FAILED, message=Message("job.failed", error=Message("job.died", code=-9)),
                    batches=[BatchReport(epoch=2, batch=5, batches=10, loss=0.5, accuracy=0.8, samples_per_s=100.0,
                                         elapsed_s=2.0)],
                    probes=[Probe(progress=1.5, train_accuracy=None, eval_accuracy=0.9, eval_loss=0.3)],
                    live=evaluation(1), epochs=[{"epoch": 1, "eval_accuracy": 0.9, "eval_split": "test"}],
                    evaluation=evaluation(2), checkpoint=Path("/runs/classes/7b/run-7b.pt"), stopped_by="s1",
                    finetune={"layers": "all", "before": {"mnist_accuracy": 0.99}}, owner="s2", first=True,
                    class_score=(0.75, 12, "ab12cd34"), ended=123.5, class_code="7b")


def test_a_run_comes_back_the_same_run():
    sent = a_whole_run()
    back = run_from_plain(through_a_file(run_plain(sent)))
    for name in ("live", "evaluation"):
        ours, theirs = getattr(sent, name), getattr(back, name)
        assert (ours.loss, ours.accuracy) == (theirs.loss, theirs.accuracy)
        assert all(torch.equal(getattr(ours, t), getattr(theirs, t)) for t in ("confusion", "predicted", "confidence"))
    assert replace(back, live=None, evaluation=None) == replace(sent, live=None, evaluation=None)
    assert back.message.key == "job.failed" and back.message.values["error"].key == "job.died"
    assert back.config.model == "design" and back.status is Status.FAILED and back.class_score == (0.75, 12, "ab12cd34")


def test_a_film_comes_back_frame_by_frame():
    frames = [Frame(samples=500 * i, progress=i / 10, filters=np.full((6, 1, 5, 5), i, np.float32),
                    maps={"conv1": np.full((6, 28, 28), -i, np.float32)}) for i in range(3)]
    back = frames_from_plain(through_a_file(frames_plain(frames)))
    assert [(f.samples, f.progress) for f in back] == [(f.samples, f.progress) for f in frames]
    assert all(np.array_equal(a.filters, b.filters) and np.array_equal(a.maps["conv1"], b.maps["conv1"])
               for a, b in zip(back, frames, strict=True))
