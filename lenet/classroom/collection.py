"""The class collection: the drawings students confirmed or corrected, kept on disk for fine-tuning.

One drawing is three files named by an id that sorts by time (`<ns since 1970>-<8 hex>`):

    1732272000123456789-9f3a0c1d.png          the 28×28 MNIST-style input, white ink on black
    1732272000123456789-9f3a0c1d.canvas.png   the canvas as drawn (RGBA), when there was one
    1732272000123456789-9f3a0c1d.json         {"label": 7, "predicted": 1, "model": "lenet5.pt", "saved": "..."}

Each file is written atomically (a temporary file in the same folder, then os.replace) and the
JSON comes last, so a reader that lists `*.json` never meets a half-saved drawing. Nothing about the
student is stored: no name, address or session. `.saved/` notes each picture's drawing.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from ..files import runs_root, write_atomic
from ..messages import Message
from .moderation import LOG, moderated
from .news import bump, class_of
from .store import mutex

__all__ = ["HELD_OUT", "MAX_ITEMS", "CollectionError", "Drawings", "Item", "clear", "export_zip", "images", "items",
           "labels", "read", "save", "set_name", "split"]

HELD_OUT = 0.25  # the share of the drawings kept out of fine-tuning, to judge it by
MAX_ITEMS = 5000  # a class's worth many times over; ~0.5 KB + ~3 KB (canvas) each on disk
MAX_CANVAS = 4096  # the longest canvas side kept, in pixels
MAX_MODEL_NAME = 200  # characters of the model's name kept
FIELDS = ("label", "predicted", "model", "saved")  # the JSON's keys, all of them
ID = re.compile(r"^(\d+)-([0-9a-f]{8})$")
SAVED = ".saved"  # one small file per picture saved, naming its drawing: a picture sent twice is saved once


class CollectionError(ValueError):
    """A drawing that can't be saved or read; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Item:
    """One saved drawing. `saved` is when, in UTC, as ISO 8601 text."""
    id: str  # "<ns since 1970>-<8 hex>": sorts by time, unique across threads
    label: int  # the right digit, 0..9, as the student confirmed or corrected it
    predicted: int | None  # what the model said, 0..9, if it was asked
    model: str | None  # which model said it
    saved: str
    folder: Path
    original: int | None = None  # the student's label, where the teacher relabelled it (moderation.py)

    @property
    def path(self) -> Path:
        """The 28×28 image's file."""
        return self.folder / f"{self.id}.png"

    @property
    def canvas_path(self) -> Path:
        return self.folder / f"{self.id}.canvas.png"

    def image(self) -> np.ndarray:
        """The 28×28 uint8 image, white ink on black, as the model sees it before normalising."""
        try:
            with Image.open(self.path) as im:
                image = np.array(im.convert("L"))  # a writable copy: torch.from_numpy takes it as it is
        except (OSError, ValueError) as err:
            raise CollectionError(Message("collection.damaged", id=self.id, reason=type(err).__name__,
                                          folder=str(self.folder))) from None
        if image.shape != (28, 28):
            raise CollectionError(Message("collection.damaged", id=self.id, reason=f"image is {image.shape}",
                                          folder=str(self.folder)))
        return image

    def canvas(self) -> np.ndarray | None:
        """The canvas as drawn, (H, W, 4) RGBA uint8 for the app's canvas, or None if none was kept."""
        if not self.canvas_path.is_file():
            return None
        with Image.open(self.canvas_path) as im:
            return np.asarray(im).copy()


@dataclass(frozen=True)
class Drawings:
    """The readable drawings of a collection, newest first, with their images decoded once."""
    items: list[Item]
    images: np.ndarray  # (N, 28, 28) uint8, white ink on black, in the order of items
    damaged: int  # drawings skipped: a JSON that doesn't read, or an image missing or not decodable
    relabelled: int = 0  # drawings whose label the teacher changed (moderation.py)
    excluded: int = 0  # drawings the teacher left out

    @property
    def labels(self) -> np.ndarray:
        """The right digits, (N,) int64."""
        return labels(self.items)


def read(folder: Path) -> Drawings:
    """Every drawing in `folder` that reads whole, and how many did not. A drawing still being
    saved (its JSON, written last, not there yet) is neither."""
    good, pictures, damaged = [], [], 0
    found, relabelled, excluded = _moderate(Path(folder), sorted(_ids(folder), key=_sort_key, reverse=True))
    for id_, item in found:
        if item is None:
            damaged += (Path(folder) / f"{id_}.json").is_file()
            continue
        try:
            pictures.append(item.image())
        except CollectionError:
            damaged += 1
            continue
        good.append(item)
    stack = np.stack(pictures) if pictures else np.zeros((0, 28, 28), np.uint8)
    return Drawings(items=good, images=stack, damaged=damaged, relabelled=relabelled, excluded=excluded)


def _moderate(folder: Path, ids: list[str]) -> tuple[list[tuple[str, Item | None]], int, int]:
    """Each id with its drawing as the teacher's corrections leave it (None: half-saved or damaged),
    the teacher's deletions left out; and how many were relabelled and left out."""
    corrections = moderated(folder)
    found, relabelled, excluded = [], 0, 0
    for id_ in ids:
        if id_ in corrections.deleted:
            excluded += 1
            continue
        item = _read(folder, id_)
        label = corrections.labels.get(id_)
        if item is not None and label is not None and label != item.label:
            item, relabelled = replace(item, label=label, original=item.label), relabelled + 1
        found.append((id_, item))
    return found, relabelled, excluded


def save(folder: Path, image: np.ndarray, label: int, *, canvas: np.ndarray | None = None,
         predicted: int | None = None, model: str | None = None) -> Item:
    """Add one drawing to the collection in `folder` (made if missing).

    Args:
        image: (28, 28) uint8, white ink on black: to_mnist(canvas).centred.
        label: the right digit, 0..9.
        canvas: the raw canvas array as drawn (RGBA uint8), kept for a later look; optional.
        predicted: the model's answer, 0..9; model: the model's name (not a path with a user in it).
    Raises:
        CollectionError: a bad label, image, canvas or name, or a full collection.
    """
    label = _digit(label, "collection.bad_label")
    predicted = None if predicted is None else _digit(predicted, "collection.bad_predicted")
    _check_image(image)
    if canvas is not None:
        _check_canvas(canvas)
    if model is not None and (not isinstance(model, str) or len(model) > MAX_MODEL_NAME):
        raise CollectionError(Message("collection.bad_model", limit=MAX_MODEL_NAME))
    folder = Path(folder)
    png = _png(image)  # encoded before taking the lock: 30 savers at once queue only for the writes
    canvas_png = None if canvas is None else _png(canvas)
    saved = datetime.now(UTC).isoformat(timespec="seconds")
    item = Item(id=f"{time.time_ns()}-{secrets.token_hex(4)}", label=label, predicted=predicted, model=model,
                saved=saved, folder=folder)
    record = json.dumps({"label": label, "predicted": predicted, "model": model, "saved": saved}).encode()
    seen = folder / SAVED / hashlib.sha1(image.tobytes()).hexdigest()[:20]  # this very picture, saved before?
    with _one_at_a_time(folder):
        folder.mkdir(parents=True, exist_ok=True)
        if (before := _saved_as(folder, seen)) is not None:  # sent again (a page reconnected after a restart)
            return before
        count = len(_ids(folder))
        if count >= MAX_ITEMS:
            raise CollectionError(Message("collection.full", count=count))
        _write(item.path, png)
        if canvas_png is not None:
            _write(item.canvas_path, canvas_png)
        _write(folder / f"{item.id}.json", record)  # last: from now on the drawing exists
        _write(seen, item.id.encode())
    bump("collection", class_of(folder))  # on disk: news for the Class page
    return item


def _saved_as(folder: Path, seen: Path) -> Item | None:
    """The drawing saved before from the same picture, if it is still there."""
    id_ = seen.read_text() if seen.is_file() else ""  # under the mutex: nobody removes it meanwhile
    return _read(folder, id_) if ID.match(id_) else None


def set_name(found: list[Item]) -> str:
    """A short name for a set of drawings with their labels: two scores with the same name were
    taken on the same drawings, labelled the same (a teacher's relabel makes a new set)."""
    listed = "\n".join(sorted(f"{item.id}:{item.label}" for item in found))
    return hashlib.sha1(listed.encode()).hexdigest()[:8]


def items(folder: Path) -> list[Item]:
    """Every complete drawing in `folder`, newest first, as the teacher's corrections leave it; a
    damaged or half-saved one (no JSON, bad JSON, no image) skipped; none in a missing folder."""
    found = _moderate(Path(folder), sorted(_ids(folder), key=_sort_key, reverse=True))[0]
    return [item for _, item in found if item is not None]


def images(chosen: list[Item]) -> np.ndarray:
    """The drawings' images stacked: (N, 28, 28) uint8. Raises CollectionError for a damaged one."""
    return np.stack([item.image() for item in chosen]) if chosen else np.zeros((0, 28, 28), np.uint8)


def labels(chosen: list[Item]) -> np.ndarray:
    """The drawings' right digits: (N,) int64."""
    return np.array([item.label for item in chosen], dtype=np.int64)


def split(chosen: list[Item], held_out: float = HELD_OUT) -> tuple[list[Item], list[Item]]:
    """Train and held-out drawings, in the given order. Each drawing's side comes from a hash of
    its id alone, so adding drawings never moves an old one across (the held-out scores before
    and after a fine-tune stay comparable from one lesson to the next)."""
    if isinstance(held_out, bool) or not isinstance(held_out, (int, float)) or not 0 <= held_out < 1:
        raise CollectionError(Message("collection.bad_share", value=held_out))
    train, held = [], []
    for item in chosen:
        (held if _share(item.id) < held_out else train).append(item)
    return train, held


def export_zip(folder: Path) -> bytes:
    """The whole collection as a zip: images/<id>.png, canvas/<id>.png where kept, and labels.csv
    with one row per drawing (file, label, predicted, model, saved), newest first. Damaged
    drawings are left out, as fine-tuning leaves them out."""
    buffer, table = io.BytesIO(), io.StringIO()
    rows = csv.writer(table, lineterminator="\n")
    rows.writerow(["file", *FIELDS])
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for item in read(folder).items:
            try:
                zf.write(item.path, f"images/{item.id}.png")
                if item.canvas_path.is_file():
                    zf.write(item.canvas_path, f"canvas/{item.id}.png")
            except FileNotFoundError:  # cleared while exporting: leave it out
                continue
            rows.writerow([f"images/{item.id}.png", item.label, _blank(item.predicted), _blank(item.model),
                           item.saved])
        zf.writestr("labels.csv", table.getvalue())
    return buffer.getvalue()


def clear(folder: Path) -> int:
    """Delete every drawing's files in `folder`, half-saved ones too, and the teacher's corrections
    of them (an Undo after Clear would have nothing to restore); nothing else (other files and
    subfolders stay). Returns how many drawings were deleted."""
    folder = Path(folder)
    with _one_at_a_time(folder):
        ids = _ids(folder)
        for id_ in ids:
            for name in (f"{id_}.json", f"{id_}.png", f"{id_}.canvas.png"):  # the JSON first: gone at once
                (folder / name).unlink(missing_ok=True)
        (folder / LOG).unlink(missing_ok=True)
        shutil.rmtree(folder / SAVED, ignore_errors=True)
    bump("collection", class_of(folder))
    return len(ids)


def _one_at_a_time(folder: Path):
    """One saver or clearer of `folder` at a time, on every replica: the cap holds, and Clear
    never races a save. Named by its place under the runs (the same on every host sharing them)."""
    where, runs = folder.resolve(), runs_root().resolve()
    return mutex(f"collection:{where.relative_to(runs) if where.is_relative_to(runs) else where}")


def _digit(value: object, key: str) -> int:
    """A digit 0..9 as a plain int (numpy integers too); bools, floats and text are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 9:
        raise CollectionError(Message(key, value=value))
    return int(value)


def _check_image(image: object) -> None:
    if not isinstance(image, np.ndarray) or image.shape != (28, 28) or image.dtype != np.uint8:
        shape = getattr(image, "shape", type(image).__name__)
        raise CollectionError(Message("collection.bad_image", shape=tuple(shape) if isinstance(shape, tuple) else shape,
                                               dtype=getattr(image, "dtype", "")))


def _check_canvas(canvas: object) -> None:
    ok = (isinstance(canvas, np.ndarray) and canvas.dtype == np.uint8
          and (canvas.ndim == 2 or (canvas.ndim == 3 and canvas.shape[2] in (3, 4)))
          and 0 < min(canvas.shape[:2]) and max(canvas.shape[:2]) <= MAX_CANVAS)
    if not ok:
        got = f"{canvas.shape} {canvas.dtype}" if isinstance(canvas, np.ndarray) else type(canvas).__name__
        raise CollectionError(Message("collection.bad_canvas", side=MAX_CANVAS, got=got))


def _png(array: np.ndarray) -> bytes:
    """PNG bytes with no metadata chunks (PIL writes none unless asked)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(out, "PNG")
    return out.getvalue()


def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data)  # ".<name>.<random>.tmp" first, which no listing here matches


def _ids(folder: Path) -> set[str]:
    """The id of every drawing with at least one file in `folder`, whole or not."""
    folder = Path(folder)
    if not folder.is_dir():
        return set()
    found = set()
    for path in folder.iterdir():
        stem = path.name.removesuffix(".json").removesuffix(".png").removesuffix(".canvas")
        if ID.match(stem) and path.name in (f"{stem}.json", f"{stem}.png", f"{stem}.canvas.png"):
            found.add(stem)
    return found


def _sort_key(id_: str) -> tuple[int, str]:
    ns, tag = ID.match(id_).groups()
    return int(ns), tag


def _read(folder: Path, id_: str) -> Item | None:
    """The drawing `id_` if its JSON reads as one and its image file is there; None otherwise."""
    try:
        record = json.loads((folder / f"{id_}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or set(record) != set(FIELDS) or not (folder / f"{id_}.png").is_file():
        return None
    label, predicted, model, saved = (record[k] for k in FIELDS)
    valid = (_is_digit(label) and (predicted is None or _is_digit(predicted))
             and (model is None or isinstance(model, str)) and isinstance(saved, str))
    return Item(id=id_, label=label, predicted=predicted, model=model, saved=saved, folder=folder) if valid else None


def _is_digit(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9


def _share(id_: str) -> float:
    """A number in [0, 1) fixed by the id alone (the first 8 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(id_.encode()).digest()[:8], "big") / 2**64


def _blank(value: object) -> object:
    return "" if value is None else value
