"""What the server and a training process say to each other over the pipe: the Order a Start sends
the child, and the events the child sends back, one small frozen dataclass per kind. The child is
trainer.py; the server's side is jobs.py, which keeps the run's state (state.py) from the events.

Events travel as plain pickles between a server and the process it forked (tensors as bytes, not
as shared-memory handles); nothing read from a shared place is ever unpickled.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import TrainConfig
from ..messages import Message
from ..train import BatchReport, EvalResult

__all__ = ["ENDINGS", "MAX_WAIT_S", "Began", "EpochEnded", "Failed", "FineTuned", "FineTuning", "Finished", "Filmed",
           "PROBE_SIZE", "Frame", "Order", "Probe", "Probed", "Said", "Scored", "Stepped", "Stopped", "Weights"]

MAX_WAIT_S = 0.5  # the longest the trainer waits for pages before one more batch: it never starves


PROBE_SIZE = 1000  # the live points' slice: the first 1,000 eval images, the same every time


@dataclass(frozen=True)
class Probe:
    """One live point: the model on the fixed test slice (the first PROBE_SIZE eval images), between
    two batches."""
    progress: float  # epochs done, fractional
    train_accuracy: float | None  # over this epoch's batches so far; None before the first
    eval_accuracy: float
    eval_loss: float


@dataclass(frozen=True, eq=False)  # eq=False: frames are compared by identity, not array by array
class Frame:
    """The conv1 filters, and the feature maps of one fixed digit, at one moment of training."""
    samples: int  # training samples seen so far in this run
    progress: float  # epochs done, fractional
    filters: np.ndarray  # conv1's kernels (6, 1, 5, 5), float32
    maps: dict[str, np.ndarray]  # conv1 (6, 28, 28) and conv2 (16, 10, 10) for the fixed digit


@dataclass(frozen=True)
class FineTuning:
    """What a fine-tuning run tunes (lenet/classroom/finetune.py), instead of training afresh."""
    source: Path  # the checkpoint fine-tuned; only read
    folder: Path  # the class collection
    replay: int  # MNIST training images mixed in


# ---- the events, child to server: one kind each ------------------------------------------------

@dataclass(frozen=True)
class Said:
    message: Message  # a line while MNIST loads


@dataclass(frozen=True)
class Began:
    """Training has begun."""


@dataclass(frozen=True)
class Stepped:
    report: BatchReport  # every PROGRESS_EVERY batches, and each epoch's last


@dataclass(frozen=True)
class Weights:
    state: dict[str, torch.Tensor]  # the live model's weights, on the CPU


@dataclass(frozen=True)
class Probed:
    point: Probe
    evaluation: EvalResult  # the slice's confusion matrix and predictions


@dataclass(frozen=True)
class Filmed:
    frame: Frame


@dataclass(frozen=True)
class EpochEnded:
    record: dict  # EpochReport.to_dict()
    evaluation: EvalResult  # on the whole eval split
    path: Path  # where the epoch is saved


@dataclass(frozen=True)
class FineTuned:
    report: dict  # counts, and the scores before and after (checkpoint_of(...)["finetune"])


@dataclass(frozen=True)
class Scored:
    """A design's score on the class's drawings (the board's hidden test), which it never trained on."""
    accuracy: float | None  # None: the class has no drawings yet
    count: int
    drawings: str = ""  # the set's name (collection.set_name): the same name, the same drawings and labels


@dataclass(frozen=True)
class Finished:
    path: Path


@dataclass(frozen=True)
class Stopped:
    """Stop was pressed; every finished epoch is saved."""


@dataclass(frozen=True)
class Failed:
    message: Message


ENDINGS = (Finished, Stopped, Failed)  # the last event of every run


@dataclass(frozen=True)
class Order:
    """What the child is asked to run."""
    config: TrainConfig
    path: Path  # its checkpoint, written after every epoch
    resume: bytes | None = None  # a pickled checkpoint dict: a run continued, or the model fine-tuned
    tuning: FineTuning | None = None
    nice: int = 0  # how far the child steps back for the server's threads
    score_on: Path | None = None  # a class collection to score the finished model on (a board design)
    cap: int | None = None  # runs kept in its folder; None: lenet.classroom.runs.max_runs()
    max_wait_s: float = MAX_WAIT_S  # the longest it waits for pages before each batch
    threads: int | None = None  # a fixed number of threads; None: the ThreadGovernor measures and picks


