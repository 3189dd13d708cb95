"""Checkpoints: plain dicts that can rebuild their model, written atomically, loaded safely.

    {"format": "lenet-lab/2", "model": "lenet5", "config": {"activation": "relu", ...},
     "state_dict": {...}, "metrics": {"eval_split": "test", "eval_accuracy": 0.99, ...},
     "history": [{"epoch": 1, "eval_split": "test", "eval_accuracy": ..., ...}], "train": {...},
     "calibration": {"means": ..., "threshold": ...}}    # the digit-like check's, where it was made

Loading uses torch.load(weights_only=True): tensors and plain containers only, so a hostile
pickle is refused before any of its code can run. Format 1 (metric keys named after the split,
such as test_accuracy) is upgraded as it loads.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .files import write_atomic
from .messages import Message
from .registry import MODELS, build_model, resolve_options

__all__ = ["FORMAT", "CheckpointError", "accuracy_of", "load_checkpoint", "load_model", "make_checkpoint",
           "save_checkpoint", "save_epoch"]

FORMAT = "lenet-lab/2"
OLD_FORMATS = ("lenet-lab/1",)  # still loaded, upgraded by _upgrade
REQUIRED = {"format": str, "model": str, "config": dict, "state_dict": dict, "metrics": dict, "history": list}


class CheckpointError(ValueError):
    """A file that is missing, damaged, or not a LeNet Lab checkpoint; the message says which."""


def make_checkpoint(model_name: str, options: dict[str, Any], model: nn.Module, metrics: dict[str, Any],
                    history: list[dict], train: dict[str, Any] | None = None,
                    optimizer: dict[str, Any] | None = None,
                    calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to rebuild, judge, reproduce and continue a trained model, as one plain
    dict. `optimizer` is the optimizer's state_dict (its moments), kept so the run can go on;
    `calibration`, the digit-like check's (lenet.inside.ood.for_checkpoint), so it works offline."""
    extra = {} if optimizer is None else {"optimizer": copy.deepcopy(optimizer)}
    extra |= {} if calibration is None else {"calibration": calibration}
    return extra | {
        "format": FORMAT,
        "model": model_name,
        "config": resolve_options(model_name, **options),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "metrics": dict(metrics),
        "history": list(history),
        "train": dict(train or {}),
    }


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> Path:
    """Write atomically (lenet.files.write_atomic), so a crash never leaves a half-written
    checkpoint under the real name."""
    return write_atomic(Path(path), lambda f: torch.save(checkpoint, f), sync=True)


def save_epoch(path: str | Path, config: Any, model: nn.Module, history: list[dict],
               optimizer: dict[str, Any] | None = None, calibration: dict[str, Any] | None = None) -> Path:
    """Save a run after an epoch. `config` is its TrainConfig; `history` ends with the record
    of the epoch just finished, which also becomes the checkpoint's metrics."""
    last = history[-1]
    metrics = {k: v for k, v in last.items() if k != "epoch"} | {"epochs": last["epoch"]}
    ckpt = make_checkpoint(config.model, config.model_options(), model, metrics, history, config.to_dict(), optimizer,
                           calibration)
    return save_checkpoint(path, ckpt)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a checkpoint dict. Raises CheckpointError for a missing, truncated,
    hostile or foreign file; nothing in the file is executed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(Message("checkpoint.missing", path=str(path)))
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (bad zip), EOFError, ...: all refused
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(Message("checkpoint.refused", path=str(path), reason=reason[:200])) from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(Message("checkpoint.not_dict", path=str(path), kind=type(ckpt).__name__))
    problems = [key for key, kind in REQUIRED.items() if not isinstance(ckpt.get(key), kind)]
    if problems or ckpt["format"] not in (FORMAT, *OLD_FORMATS):
        raise CheckpointError(Message("checkpoint.foreign", path=str(path),
                                      problems=", ".join(problems) or "format " + repr(ckpt.get("format"))))
    if ckpt["model"] not in MODELS:
        raise CheckpointError(Message("checkpoint.unknown_model", path=str(path), model=ckpt["model"]))
    return _upgrade(ckpt)


def _upgrade(ckpt: dict[str, Any]) -> dict[str, Any]:
    """Format 1 named its metrics after the split (test_loss or val_accuracy); format 2 has fixed
    keys eval_loss, eval_accuracy and eval_split. Its training settings called `limit` train_limit."""
    if ckpt["format"] == FORMAT:
        return ckpt
    ckpt["metrics"] = _fixed_keys(ckpt["metrics"])
    ckpt["history"] = [_fixed_keys(record) for record in ckpt["history"]]
    train = ckpt.get("train") or {}
    if "train_limit" in train:
        train["limit"] = train.pop("train_limit")
    ckpt["format"] = FORMAT
    return ckpt


def _fixed_keys(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for split in ("test", "val"):
        if f"{split}_accuracy" in out or f"{split}_loss" in out:
            out["eval_split"] = split
            for metric in ("loss", "accuracy"):
                if f"{split}_{metric}" in out:
                    out[f"eval_{metric}"] = out.pop(f"{split}_{metric}")
    return out


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint describes, with its weights, in eval mode."""
    ckpt = load_checkpoint(path)
    try:
        model = build_model(ckpt["model"], **ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
    except (ValueError, TypeError, RuntimeError) as err:
        reason = str(err).splitlines()[0]
        raise CheckpointError(Message("checkpoint.mismatch", path=str(path), model=ckpt["model"],
                                      reason=reason)) from None
    return model.to(device).eval(), ckpt


def accuracy_of(ckpt: dict[str, Any]) -> float | None:
    """The checkpoint's accuracy (0..1) on the split it was evaluated on: test, or val if it was
    trained with a validation split."""
    return ckpt.get("metrics", {}).get("eval_accuracy")
