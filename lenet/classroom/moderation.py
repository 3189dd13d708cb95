"""The teacher's corrections to the class collection: relabel a drawing, leave one out, undo.

Nothing is ever deleted or rewritten. Each correction is one line appended to `moderation.jsonl`
in the collection folder, and the collection is read through them (collection.read):

    {"action": "relabel", "id": "1732272000123456789-9f3a0c1d", "label": 1, "at": "2026-12-02T21:40:00+00:00"}
    {"action": "delete", "id": "1732272000123456789-0b5e77aa", "at": "..."}
    {"action": "undo", "at": "..."}

"undo" takes back the latest correction not yet taken back, so a row of undos walks back through
them. A deleted drawing's files stay where they are: undo brings it back as it was. A line that
doesn't read (a crash mid-write) is skipped, so one bad line never hides the rest.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..messages import Message
from .news import bump, class_of

__all__ = ["ACTIONS", "LOG", "Edit", "Moderated", "delete", "edits", "moderated", "relabel", "undo"]

LOG = "moderation.jsonl"  # in the collection folder, beside the drawings
ACTIONS = ("relabel", "delete", "undo")


@dataclass(frozen=True)
class Edit:
    action: str  # relabel | delete | undo
    id: str | None  # the drawing's id; None for undo
    label: int | None  # the new label of a relabel
    at: str  # when, in UTC, as ISO 8601 text


@dataclass(frozen=True)
class Moderated:
    """The corrections in force: what undo has not taken back."""
    labels: dict[str, int]  # drawing id -> the teacher's label
    deleted: frozenset[str]  # drawing ids left out
    latest: Edit | None  # the correction the next undo takes back


def _append(folder: Path, record: dict) -> Edit:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    edit = Edit(action=record["action"], id=record.get("id"), label=record.get("label"), at=at)
    line = json.dumps({k: v for k, v in {**record, "at": at}.items() if v is not None}) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    if _torn(folder / LOG):  # a crash left half a line: start a new one, so this one reads whole
        line = "\n" + line
    # O_APPEND: each line lands whole at the end, even with two teachers' tabs writing at once
    fd = os.open(folder / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    bump("collection", class_of(folder))
    return edit


def _torn(path: Path) -> bool:
    """Whether the log's last line lacks its newline."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def relabel(folder: Path, id_: str, label: int) -> Edit:
    """Give drawing `id_` the label `label` (0..9). ValueError for a label that isn't a digit."""
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        raise ValueError(Message("collection.bad_label", value=label))
    return _append(Path(folder), {"action": "relabel", "id": id_, "label": label})


def delete(folder: Path, id_: str) -> Edit:
    """Leave drawing `id_` out of the collection (its files stay: undo brings it back)."""
    return _append(Path(folder), {"action": "delete", "id": id_})


def undo(folder: Path) -> Edit | None:
    """Take back the latest correction still in force; returns it, or None if there is none."""
    latest = moderated(folder).latest
    if latest is not None:
        _append(Path(folder), {"action": "undo"})
    return latest


def edits(folder: Path) -> list[Edit]:
    """Every line of the log that reads, oldest first (undos included)."""
    path = Path(folder) / LOG
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            edit = Edit(action=record["action"], id=record.get("id"), label=record.get("label"),
                        at=str(record.get("at", "")))
        except (ValueError, KeyError, TypeError):
            continue
        if edit.action in ACTIONS and (edit.action == "undo" or isinstance(edit.id, str)):
            found.append(edit)
    return found


def moderated(folder: Path) -> Moderated:
    """Replay the log: each undo removes the latest correction still standing."""
    standing: list[Edit] = []
    for edit in edits(folder):
        if edit.action == "undo":
            if standing:
                standing.pop()
        elif edit.action != "relabel" or (isinstance(edit.label, int) and 0 <= edit.label <= 9):
            standing.append(edit)
    labels: dict[str, int] = {}
    deleted: set[str] = set()
    for edit in standing:
        if edit.action == "relabel":
            labels[edit.id] = edit.label
        else:
            deleted.add(edit.id)
    return Moderated(labels=labels, deleted=frozenset(deleted), latest=standing[-1] if standing else None)
