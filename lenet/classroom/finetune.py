"""The class teaches the model: fine-tune a checkpoint on the class's own drawings.

The drawings (lenet.classroom.collection) are split once, by id, into a part to learn from and a
held-out part to judge by. The model learns from the first mixed with a replay sample of MNIST
training images, so it takes on the class's handwriting without forgetting MNIST's, through the
same training loop as every other run (lenet.train.train, continuing the checkpoint). It is
scored before and after on the 10k MNIST test images and on the held-out drawings.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checkpoints import load_model, make_checkpoint, save_checkpoint
from ..config import TrainConfig
from ..data import Mnist, Split, normalise
from ..messages import Message
from ..train import Hook, evaluate, train
from . import collection
from .collection import HELD_OUT, Item

__all__ = ["EPOCHS", "MIN_TRAIN", "REPLAY", "FineTuneError", "FineTuneResult", "Scores", "checkpoint_of",
           "class_split", "finetune", "mixed_data", "plan", "recipe", "repeats", "save_finetuned", "scores"]

EPOCHS = 3  # passes over the mix: ~4-6 s for lenet5 on 2 CPU cores
REPLAY = 10_000  # MNIST training images mixed in: what holds MNIST accuracy (3,000 lost ~0.05% more)
MIN_TRAIN = 10  # drawings to learn from, at least: fewer teach noise
CLASS_SHARE = 0.4  # the drawings' target share of the mix, repeats included
MAX_REPEAT = 8  # but no drawing more than this many times per epoch

TRAINING_MODE = "scores() needs a model in eval mode: call .eval() on your own copy first"  # a programming error


class FineTuneError(ValueError):
    """Fine-tuning can't start; the message says why and what to do."""


@dataclass
class Scores:
    mnist_accuracy: float  # 0..1 on the 10k MNIST test images
    class_accuracy: float | None  # 0..1 on the held-out class drawings; None if there are none
    class_count: int  # held-out drawings scored


@dataclass
class FineTuneResult:
    model: nn.Module  # the fine-tuned plain model, on the CPU, in eval mode
    before: Scores  # the source checkpoint's model
    after: Scores  # the fine-tuned model, on the same images
    config: TrainConfig  # the recipe it was trained with
    history: list[dict]  # one EpochReport.to_dict() per fine-tuning epoch (evaluated on MNIST test)
    train_count: int  # class drawings learnt from (before repeating)
    held_count: int  # class drawings held out
    replay: int  # MNIST training images mixed in
    damaged: int = 0  # drawings skipped because they could not be read
    source: str = ""  # the checkpoint fine-tuned
    stopped: bool = False  # the stop flag ended it early; `after` scores the partly trained model
    source_history: list[dict] = field(default_factory=list, repr=False)  # the source's own epochs
    relabelled: int = 0  # drawings learnt or judged with the teacher's label, not the student's
    excluded: int = 0  # drawings the teacher left out


def repeats(drawings: int, replay: int) -> int:
    """How many times each drawing goes into the mix.

    A few hundred drawings against 10,000 MNIST images would be a few percent of every batch,
    too little to move the model. Repeated towards CLASS_SHARE of the mix they count, while MNIST
    keeps the majority, which is what holds its accuracy (measured with the recipe: see there).
    MAX_REPEAT keeps a small collection from being learnt by heart: 10 drawings would otherwise
    go in ~700 times.
    """
    if drawings == 0:
        return 0
    wanted = CLASS_SHARE * replay / ((1 - CLASS_SHARE) * drawings)
    return max(1, min(MAX_REPEAT, round(wanted)))


def class_split(items: list[Item], images: np.ndarray) -> Split:
    """Drawings as model inputs: their images (N, 28, 28) uint8 -> x (N, 1, 28, 28) normalised like
    MNIST, and their labels y (N,) int64."""
    return Split(x=normalise(torch.from_numpy(images)), y=torch.from_numpy(collection.labels(items)))


def mixed_data(drawings: Split, mnist: Mnist, replay: int, seed: int) -> Mnist:
    """The data to fine-tune on: train = the drawings (each repeated `repeats` times) and `replay`
    MNIST training images picked at random by `seed`; test = MNIST's test set, untouched."""
    if isinstance(replay, bool) or not isinstance(replay, int) or not 0 <= replay <= len(mnist.train):
        raise FineTuneError(Message("finetune.bad_replay", limit=len(mnist.train), value=replay))
    n = repeats(len(drawings), replay)
    pick = torch.randperm(len(mnist.train), generator=torch.Generator().manual_seed(seed))[:replay]
    x = torch.cat([drawings.x.repeat(n, 1, 1, 1), mnist.train.x[pick]])  # (n·D + replay, 1, 28, 28)
    y = torch.cat([drawings.y.repeat(n), mnist.train.y[pick]])
    return Mnist(train=Split(x=x, y=y), test=mnist.test)  # train() shuffles every epoch


def scores(model: nn.Module, held: Split, test: Split) -> Scores:
    """The model on MNIST's test set and on the held-out drawings. The model must be in eval mode,
    and is only read (so a model that serves predictions may be scored while it serves)."""
    if model.training:
        raise ValueError(TRAINING_MODE)
    mnist_accuracy = evaluate(model, test).accuracy  # its .eval() changes nothing on an eval model
    class_accuracy = evaluate(model, held).accuracy if len(held) else None
    return Scores(mnist_accuracy=mnist_accuracy, class_accuracy=class_accuracy, class_count=len(held))


def recipe(layers: str = "all", epochs: int = EPOCHS, seed: int = 0) -> TrainConfig:
    """The fine-tuning recipe, for any model (finetune() sets the model from the checkpoint).

    Measured on the shipped lenet5 with 320 drawings of a class whose hand slants 25-35°
    (tests/classroom/test_finetune.py), judged on 600 more of that hand: 90.2% right before.
    - A constant, small learning rate: a fresh AdamW moves every weight by ~lr a step whatever
      its gradient, so one-cycle's warm-up buys nothing and its peak costs MNIST accuracy.
      All layers at 5e-4: 90.2 -> 92.3-92.5%, MNIST 99.48 -> 99.39-99.49%. The classifier alone
      learns less per step and takes 2e-3: 90.2 -> 92.0-92.8%, MNIST 99.37-99.45%. Twice those
      rates, up to 30 repeats of a drawing, or 5 epochs gained nothing (91.8-93.0%).
    - No augmentation: the model learnt its invariances on MNIST already, and what the class's
      hand has that MNIST lacks (a slant) is what augmentation would blur.
    - Label smoothing 0.1, as the shipped models were trained, so the outputs keep their scale.
    """
    return TrainConfig(lr=5e-4 if layers == "all" else 2e-3, schedule="constant", epochs=epochs, seed=seed,
                       label_smoothing=0.1, augment=False, layers=layers, batch_size=128)


@dataclass
class Plan:
    """A fine-tune checked and ready: the recipe, the source, and the drawings read once."""
    config: TrainConfig
    model: nn.Module  # the source's, in eval mode
    checkpoint: dict[str, Any]  # the source's
    learn: Split  # the drawings to learn from
    held: Split  # and those held out to judge by
    damaged: int  # drawings skipped because they could not be read
    relabelled: int = 0  # drawings with the teacher's label (moderation.py)
    excluded: int = 0  # drawings the teacher left out


def plan(source: str | Path, folder: Path, layers: str = "all", epochs: int = EPOCHS, seed: int = 0) -> Plan:
    """Check that `source` can be fine-tuned on the drawings in `folder`, before anything runs.
    Raises FineTuneError for too few drawings, CheckpointError for an unusable source, ValueError
    for a bad setting. Damaged drawings are skipped, and counted."""
    model, ckpt = load_model(source)
    drawings = collection.read(folder)
    train_items, held = collection.split(drawings.items, HELD_OUT)
    if len(train_items) < MIN_TRAIN:
        need = math.ceil(MIN_TRAIN / (1 - HELD_OUT))
        raise FineTuneError(Message("finetune.too_few", count=len(train_items), held=len(held), need=need))
    options = ckpt["config"]
    config = replace(recipe(layers, epochs, seed), model=ckpt["model"], activation=options.get("activation"),
                     pool=options.get("pool"))
    config.validate()
    image = dict(zip((i.id for i in drawings.items), drawings.images, strict=True))
    learn, judge = (class_split(part, _stack([image[i.id] for i in part])) for part in (train_items, held))
    return Plan(config=config, model=model, checkpoint=ckpt, learn=learn, held=judge, damaged=drawings.damaged,
                relabelled=drawings.relabelled, excluded=drawings.excluded)


def _stack(images: list[np.ndarray]) -> np.ndarray:
    return np.stack(images) if images else np.zeros((0, 28, 28), np.uint8)


def finetune(source: str | Path, folder: Path, mnist: Mnist, *, layers: str = "all", epochs: int = EPOCHS,
             replay: int = REPLAY, seed: int = 0, hook: Hook | None = None) -> FineTuneResult:
    """Fine-tune checkpoint `source` on the class collection in `folder`.

    Args:
        layers: "all", or "classifier" to keep the learned features as they are.
        epochs, replay, seed: passes over the mix, MNIST images mixed in, and the seed of both
            the replay sample and training.
        hook: as for lenet.train.train: it may report, save and stop.
    Returns:
        FineTuneResult: the new model and its scores before and after. The source file is only read.
    Raises:
        FineTuneError: too few drawings, or a bad replay; CheckpointError: an unusable source;
        ValueError: a bad setting (such as layers="classifier" for the MLP).
    """
    ready = plan(source, folder, layers, epochs, seed)
    data = mixed_data(ready.learn, mnist, replay, seed)
    before = scores(ready.model, ready.held, mnist.test)
    resume = {k: v for k, v in ready.checkpoint.items() if k != "optimizer"}  # its weights; fresh moments
    result = train(ready.config, data, hook, resume)
    tuned = result.model.cpu().eval()
    return FineTuneResult(model=tuned, before=before, after=scores(tuned, ready.held, mnist.test), config=ready.config,
                          history=result.history, train_count=len(ready.learn), held_count=len(ready.held),
                          replay=replay, damaged=ready.damaged, source=str(source), stopped=result.stopped,
                          source_history=list(ready.checkpoint["history"]), relabelled=ready.relabelled,
                          excluded=ready.excluded)


def checkpoint_of(result: FineTuneResult) -> dict[str, Any]:
    """The fine-tuned model as a checkpoint dict (plain types and tensors, for weights_only loading):
    the source's history continued by the fine-tune's epochs, and under "finetune" the source,
    the counts and both scores."""
    history = result.source_history + result.history
    last = history[-1] if history else {}
    metrics = {k: v for k, v in last.items() if k != "epoch"} | {"epochs": last.get("epoch", 0)}
    metrics |= {"eval_split": "test", "eval_accuracy": result.after.mnist_accuracy}
    options = {"activation": result.config.activation, "pool": result.config.pool}
    ckpt = make_checkpoint(result.config.model, options, result.model, metrics, history, result.config.to_dict())
    ckpt["finetune"] = {"source": result.source, "layers": result.config.layers, "train_count": result.train_count,
                        "held_count": result.held_count, "replay": result.replay, "damaged": result.damaged,
                        "relabelled": result.relabelled, "excluded": result.excluded, "stopped": result.stopped,
                        "before": asdict(result.before), "after": asdict(result.after)}
    return ckpt


def save_finetuned(path: str | Path, result: FineTuneResult, calibration: dict[str, Any] | None = None) -> Path:
    """Save the fine-tuned model as a checkpoint (atomically), with its digit-like calibration if
    given (lenet.inside.ood.for_checkpoint); load it with load_model."""
    ckpt = checkpoint_of(result)
    return save_checkpoint(path, ckpt if calibration is None else ckpt | {"calibration": calibration})
