"""Where LeNet Lab keeps things on disk, and the one way it writes a file.

The folders are read from the environment each time they are asked for, not copied at import,
so a server, a test or a bench sets LENET_RUNS (or LENET_DATA) once and every part follows.

    LENET_DATA   MNIST's raw files                 (default: data/ beside the code)
    LENET_RUNS   the user's saved runs             (default: checkpoints/runs/)
                 and, under class/, the class collection

One server can keep several classes apart. A class code ("7b", from a lesson link's `class=`)
gives a class its own folder, LENET_RUNS/classes/7b/, with its own runs, collection and board;
runs_dir() answers for the class of whoever asks: a code set with `in_class()`, else the one the
app says its session belongs to (`follow_class`, set by the app's router), else no class, the
folder itself, as a server for one class has always had it. The shipped checkpoints are shared.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import BinaryIO

__all__ = ["CHECKPOINT_DIR", "CLASS_CODE", "ROOT", "class_codes", "collection_dir", "current_class",
           "data_root", "ending_in", "follow_class", "in_class", "is_class_code", "is_made", "make_class",
           "new_class_code", "rename_class", "runs_dir", "runs_root", "write_atomic"]

ROOT = Path(__file__).resolve().parents[1]  # the repository
CHECKPOINT_DIR = ROOT / "checkpoints"  # the shipped models, tracked in git


def data_root() -> Path:
    """The data folder: MNIST goes in data_root()/MNIST/raw."""
    return Path(os.environ.get("LENET_DATA") or ROOT / "data")


CLASS_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,23}")  # "7b", "year9-maths": it names a folder, so plain ASCII
_class: ContextVar[str | None] = ContextVar("lenet_class", default=None)


def _no_session() -> str | None:
    return None


_follow: Callable[[], str | None] = _no_session  # the app's answer to "whose session is asking?"


def runs_root() -> Path:
    """LENET_RUNS itself (git-ignored): the runs of a server without classes, and classes/ for those with."""
    return Path(os.environ.get("LENET_RUNS") or CHECKPOINT_DIR / "runs")


def runs_dir() -> Path:
    """The saved runs of the class asking (current_class()), or with no class, runs_root()."""
    code = current_class()
    return runs_root() / "classes" / code if code else runs_root()


def is_class_code(code: str) -> bool:
    """1 to 24 lower-case letters, digits or '-', starting with a letter or digit."""
    return CLASS_CODE.fullmatch(code) is not None


def current_class() -> str | None:
    """The class whose folders runs_dir() gives: in_class()'s, else the session's, else None."""
    return _class.get() or _follow()


@contextmanager
def in_class(code: str | None) -> Iterator[None]:
    """Everything inside works in class `code`'s folders (None: no class)."""
    if code is not None and not is_class_code(code):
        raise ValueError(f"{code!r} is not a class code: 1 to 24 lower-case letters, digits or '-'")
    token = _class.set(code)
    try:
        yield
    finally:
        _class.reset(token)


def follow_class(source: Callable[[], str | None]) -> None:
    """Where current_class() asks when no in_class() is in force: the app's router passes a function
    that reads the class of the session whose page or callback is running (None elsewhere)."""
    global _follow
    _follow = source


def class_codes() -> list[str]:
    """The classes that have a folder on this server, in order."""
    folder = runs_root() / "classes"
    found = folder.iterdir() if folder.is_dir() else []
    return sorted(p.name for p in found if p.is_dir() and is_class_code(p.name))


def ending_in(folder: Path, suffix: str) -> list[Path]:
    """The files in `folder` whose names end in `suffix` (".pt"), by name; [] for no folder. Not
    Path.glob: every page's picker lists two folders on every run, and glob's pattern matching in
    Python was 4% of a class's server (a profile of 60 students); os.scandir is one call in C."""
    try:
        with os.scandir(folder) as found:
            return sorted(Path(e.path) for e in found if e.name.endswith(suffix) and not e.name.startswith(".")
                          and e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


MADE = "made"  # the file in a class's folder that says a teacher made it (deny by default: teacher.py)


def make_class(code: str) -> Path:
    """Mark class `code` as made by a teacher, so a keyed server opens it to students."""
    if not is_class_code(code):
        raise ValueError(f"{code!r} is not a class code: 1 to 24 lower-case letters, digits or '-'")
    return write_atomic(runs_root() / "classes" / code / MADE, b"")


def is_made(code: str) -> bool:
    """A teacher made class `code` here (make_class), and it is still on disk."""
    return is_class_code(code) and (runs_root() / "classes" / code / MADE).is_file()


JOIN_LETTERS = "abcdefghijkmnpqrstuvwxyz23456789"  # 32: no l/1 or o/0 to misread from the projector


def new_class_code() -> str:
    """A join code no one guesses: 8 random letters and digits (40 bits), read in two halves, "k7m2-x9qp"."""
    letters = "".join(secrets.choice(JOIN_LETTERS) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def rename_class(code: str, new: str) -> Path:
    """Give made class `code` the code `new`, with everything in its folder: the old link opens
    nothing from then on. ValueError if `code` wasn't made or `new` is taken."""
    if not is_made(code) or not is_class_code(new) or (runs_root() / "classes" / new).exists():
        raise ValueError(f"can't rename class {code!r} to {new!r}")
    return (runs_root() / "classes" / code).rename(runs_root() / "classes" / new)


def collection_dir() -> Path:
    """The class collection: drawings students confirmed, beside the runs."""
    return runs_dir() / "class"


Source = bytes | BinaryIO | Callable[[BinaryIO], None]  # the bytes, a file to copy, or a writer


def write_atomic(path: Path, source: Source, *, mode: int = 0o644, sync: bool = False) -> Path:
    """Write `path` so that no reader ever sees it half-written: a temporary file in the same
    folder (".<name>.<random>.tmp", which no listing here matches), then os.replace. A crash or
    an error leaves the old file, or none, never a torn one. `sync` also waits for the disk,
    for files worth a crash's worth of care (checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(source, bytes):
                f.write(source)
            elif callable(source):
                source(f)
            else:
                shutil.copyfileobj(source, f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it private; these files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
