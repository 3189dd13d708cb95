"""A run as plain data: dicts, lists, numbers, strings and tensors, which torch.load(...,
weights_only=True) reads back without running any code. What one replica writes to the shared
store for the others (replicas.py) is this, never a pickle of the objects themselves: what is
shared must never run code when it is read.

    data = run_plain(state)            # torch.save(data, f) on one replica
    state = run_from_plain(data)       # torch.load(f, weights_only=True) on another
"""
from __future__ import annotations

import io
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from ..config import TrainConfig
from ..messages import Message
from ..train import BatchReport, EvalResult
from .protocol import FineTuning, Frame, Probe
from .state import RunState, Status

__all__ = ["frames_from_plain", "frames_plain", "from_bytes", "run_from_plain", "run_plain", "to_bytes"]

PATHS = ("folder", "checkpoint")  # RunState's Path fields, written as text


def run_plain(state: RunState) -> dict[str, Any]:
    """`state` without its frames (they are frames_plain's), as plain data."""
    data = {f.name: getattr(state, f.name) for f in fields(state) if f.name != "frames"}
    data |= {name: None if data[name] is None else str(data[name]) for name in PATHS}
    data |= {"config": _fields(state.config), "status": state.status.value, "message": _message(state.message),
             "tuning": None if state.tuning is None else {"source": str(state.tuning.source),
                                                          "folder": str(state.tuning.folder),
                                                          "replay": state.tuning.replay},
             "batches": [_fields(b) for b in state.batches], "probes": [_fields(p) for p in state.probes],
             "live": _evaluation(state.live), "evaluation": _evaluation(state.evaluation)}
    return data


def run_from_plain(data: dict[str, Any]) -> RunState:
    """The RunState run_plain wrote, with no frames. Raises KeyError, TypeError or ValueError for
    data that isn't one."""
    values = dict(data)
    values |= {name: None if values[name] is None else Path(values[name]) for name in PATHS}
    tuning = values["tuning"]
    values |= {"config": TrainConfig(**values["config"]), "status": Status(values["status"]),
               "message": _from_message(values["message"]),
               "tuning": None if tuning is None else FineTuning(source=Path(tuning["source"]),
                                                                folder=Path(tuning["folder"]),
                                                                replay=tuning["replay"]),
               "batches": [BatchReport(**b) for b in values["batches"]],
               "probes": [Probe(**p) for p in values["probes"]],
               "live": _from_evaluation(values["live"]), "evaluation": _from_evaluation(values["evaluation"]),
               "class_score": None if values["class_score"] is None else tuple(values["class_score"])}
    return RunState(**values)


def frames_plain(frames: list[Frame]) -> list[dict[str, Any]]:
    """A film as plain data: its numpy arrays as tensors."""
    return [{"samples": f.samples, "progress": f.progress, "filters": torch.from_numpy(f.filters),
             "maps": {name: torch.from_numpy(m) for name, m in f.maps.items()}} for f in frames]


def frames_from_plain(data: list[dict[str, Any]]) -> list[Frame]:
    return [Frame(samples=f["samples"], progress=f["progress"], filters=f["filters"].numpy(),
                  maps={name: m.numpy() for name, m in f["maps"].items()}) for f in data]


def to_bytes(data: Any) -> bytes:
    """Plain data and tensors as torch.save writes them."""
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return buffer.getvalue()


def from_bytes(raw: bytes) -> Any:
    """What to_bytes wrote, on the CPU. Raises for anything else, a pickle that would run code
    first among them (weights_only)."""
    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


def _fields(obj: Any) -> dict[str, Any]:
    """A dataclass's fields, one level deep (tensors are shared, not copied)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _evaluation(ev: EvalResult | None) -> dict[str, Any] | None:
    return None if ev is None else _fields(ev)


def _from_evaluation(data: dict[str, Any] | None) -> EvalResult | None:
    return None if data is None else EvalResult(**data)


def _message(message: Message | str) -> dict[str, Any] | str:
    """A Message as its key and values; a value that is a Message itself (a failure's reason) too."""
    if not isinstance(message, Message):
        return str(message)
    return {"message": message.key,
            "values": {k: _message(v) if isinstance(v, Message) else v for k, v in message.values.items()}}


def _from_message(data: dict[str, Any] | str) -> Message | str:
    if isinstance(data, str):
        return data
    values = {k: _from_message(v) if isinstance(v, dict) else v for k, v in data["values"].items()}
    return Message(data["message"], **values)
