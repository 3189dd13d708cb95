"""The class's designs, trained fairly and ranked: the budget every design trains under, and the
leaderboard of the designs that finished.

    budget = read_budget()                         # the teacher's: images, epochs, seed, open
    config = budget.config("c6k3p1-m2-f84", "relu")  # a design under it; nothing else is the student's
    entries = ranked(read_board())                 # best test accuracy first, fewer parameters on a tie
    front = pareto(entries)                        # the names no other design beats on both counts

Everything lives in files under board_dir() (LENET_RUNS/board): budget.json, and for each
finished design its checkpoint <name>.pt with its entry <name>.json beside it. One file per
entry, each written whole (write_atomic), so two servers or threads never lose each other's
entries, and a teacher's "clear" is deleting files.
"""
from __future__ import annotations

import json
import os
import random
import re
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..config import TrainConfig
from ..data import TRAIN_SIZE
from ..designs import check
from ..files import collection_dir, runs_dir, write_atomic
from ..messages import Message
from .jobqueue import JOBS, JobQueue
from .jobs import Job
from .news import bump, class_of
from .runs import run_name
from .state import RunState, Status

__all__ = ["BUDGET_LIMITS", "MAX_ENTRIES", "Budget", "Entry", "board_dir", "clear_board", "eta_s", "new_nickname",
           "entry_of", "nickname_problem", "pareto", "ranked", "read_board", "read_budget", "record", "remove_entry",
           "save_budget", "skipped", "try_design", "write_entry"]

MAX_ENTRIES = 120  # designs kept on the board (their checkpoints too): four classes' worth
# A design's run waits for pages before each batch at most this long (the teacher's runs, 0.5 s:
# protocol.MAX_WAIT_S). Its batches are short, and with a class drawing there is nearly always a
# page being served: at 0.5 s a batch, every design took 20 s or more however small
# (bench/designs.py). It trains niced and on one thread (a short run can't afford the thread
# governor's trials, and a small net gains little from a second thread), so pages still come first.
DESIGN_WAIT_S = 0.05
# What the teacher may set, each up to a hard cap: a design of 5M parameters or 100M multiply-adds
# trains a 6,000-image budget in minutes on a laptop; the grammar's largest (85M parameters) took
# 3 GB and two minutes for 3,000 images, and ended at chance.
BUDGET_LIMITS = {"images": (100, TRAIN_SIZE), "epochs": (1, 5), "seed": (0, 2**31 - 1),
                 "params": (1_000, 5_000_000), "multiply_adds": (10_000, 100_000_000)}
NICKNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,23}")  # it also names files: ASCII, no spaces
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,199}")  # an entry's name: a run name and a nickname
_ADJECTIVES = ("Amber", "Bold", "Brave", "Calm", "Clever", "Cosmic", "Eager", "Fuzzy", "Gentle", "Happy", "Jolly",
               "Lucky", "Mighty", "Nimble", "Quick", "Quiet", "Rapid", "Shiny", "Sunny", "Swift", "Witty", "Zesty")
_ANIMALS = ("Badger", "Bee", "Crane", "Dolphin", "Falcon", "Fox", "Gecko", "Heron", "Koala", "Lynx", "Manta",
            "Moth", "Otter", "Owl", "Panda", "Puffin", "Quokka", "Robin", "Seal", "Tiger", "Wombat", "Yak")


_lock = threading.Lock()
_read: dict[Path, tuple[tuple, list[Entry]]] = {}  # folder -> (its mtime and names, its entries), for read_board


def board_dir() -> Path:
    """The board's folder, beside the runs (LENET_RUNS/board)."""
    return runs_dir() / "board"


@dataclass(frozen=True)
class Budget:
    """What every design trains with, the same for all, so designs are compared and not luck, and
    how large a design may be, so no student's design takes the class's server."""
    images: int = 6_000  # the first N MNIST training images
    epochs: int = 2
    seed: int = 0
    params: int = 1_000_000  # the most parameters a design may have (LeNet-5: 61,706)
    multiply_adds: int = 20_000_000  # the most multiply-adds for one digit (LeNet-5: 416,520)
    open: bool = True  # the class takes submissions

    def problem(self) -> Message | None:
        for name, (low, high) in BUDGET_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                return Message("board.bad_budget", name=name, value=value, low=low, high=high)
        return None

    def record(self) -> dict[str, int]:
        """What an entry keeps of the budget it trained under: all but whether the class is open."""
        return {k: v for k, v in asdict(self).items() if k != "open"}

    def config(self, design: str, activation: str | None) -> TrainConfig:
        """The recipe a design trains with: the budget's images, epochs and seed, the defaults for
        the rest. Raises ValueError, saying why, for an impossible design."""
        config = TrainConfig(design=design, activation=activation, limit=self.images, epochs=self.epochs,
                             seed=self.seed, max_params=self.params, max_multiply_adds=self.multiply_adds)
        config.validate()
        return config


def read_budget(folder: Path | None = None) -> Budget:
    """The teacher's budget; the default one if none was saved or the file can't be read."""
    try:
        saved = json.loads((Path(folder or board_dir()) / "budget.json").read_text())
        budget = Budget(**{f.name: saved[f.name] for f in fields(Budget) if f.name in saved})
    except (OSError, ValueError, TypeError):
        return Budget()
    return budget if budget.problem() is None else Budget()


def save_budget(budget: Budget, folder: Path | None = None) -> Budget:
    """Save the teacher's budget. Raises ValueError, saying which number is out of range."""
    if budget.problem() is not None:
        raise ValueError(budget.problem())
    folder = Path(folder or board_dir())
    write_atomic(folder / "budget.json", json.dumps(asdict(budget)).encode())
    bump("board", class_of(folder))
    return budget


@dataclass(frozen=True)
class Entry:
    """One finished design on the board."""
    name: str  # its run's name: also its files' names, <name>.pt and <name>.json
    nickname: str  # the student's chosen or generated nickname, never a real name
    design: str  # its text, e.g. c6k5p2-m2-c16k5-m2-f120-f84
    activation: str
    params: int
    multiply_adds: int  # for one image
    train_s: float  # training and evaluating its epochs, on this server
    wall_s: float  # from its process's start to its last word: what a student waits, queue aside
    test_accuracy: float  # on the whole MNIST test set, the same 10,000 digits for everyone
    class_accuracy: float | None  # on the class's confirmed drawings, which no design trained on; None: none yet
    class_count: int  # how many drawings that was
    owner: str = ""  # the browser that submitted it, so its page can say "yours"
    class_set: str = ""  # which drawings, labelled how (collection.set_name): scores on one set compare
    budget: dict = field(default_factory=dict)  # what it trained under (Budget.record()); {}: before budgets were kept

    def checkpoint(self, folder: Path | None = None) -> Path:
        return Path(folder or board_dir()) / f"{self.name}.pt"


def write_entry(entry: Entry, folder: Path | None = None) -> Path:
    """Put a finished design on the board (its checkpoint is already saved beside it)."""
    folder = Path(folder or board_dir())
    written = write_atomic(folder / f"{entry.name}.json", json.dumps(asdict(entry)).encode())
    bump("board", class_of(folder))
    return written


def read_board(folder: Path | None = None) -> list[Entry]:
    """Every entry whose checkpoint is still there; a file that doesn't read is skipped. Read
    again only when the folder has changed: every page's picker asks, and a class has dozens open."""
    folder = Path(folder or board_dir())
    try:  # with the names: a folder's mtime ticks coarsely, and write_atomic's rename keeps the count
        stamp = (folder.stat().st_mtime_ns, tuple(sorted(os.listdir(folder))))
    except FileNotFoundError:
        return []
    with _lock:
        cached = _read.get(folder)
    if cached is not None and cached[0] == stamp:
        return list(cached[1])
    found = _entries(folder)
    with _lock:
        _read[folder] = (stamp, found)
    return list(found)


def _entries(folder: Path) -> list[Entry]:
    found = []
    for path in sorted(folder.glob("*.json")):
        if path.name == "budget.json" or not path.with_suffix(".pt").is_file():
            continue
        try:
            entry = entry_of(json.loads(path.read_text()))
        except (OSError, ValueError):
            entry = None
        if entry is not None:
            found.append(entry)
    return found


_KINDS = {"str": (str,), "int": (int,), "float": (int, float), "float | None": (int, float, type(None)),
          "dict": (dict,)}  # an Entry field's annotation -> the JSON types it may hold


def entry_of(data: object) -> Entry | None:
    """The Entry a file's JSON holds, every field of its own type; None for anything else (a file
    edited by hand, or from another version): a damaged entry is left off the board, never shown."""
    if not isinstance(data, dict) or not set(data) <= {f.name for f in fields(Entry)}:
        return None
    for f in fields(Entry):
        if f.name not in data:
            continue
        value = data[f.name]
        if isinstance(value, bool) or not isinstance(value, _KINDS[str(f.type)]):
            return None
    try:
        entry = Entry(**data)
    except TypeError:  # a field missing
        return None
    return entry if NAME.fullmatch(entry.name) else None


def skipped(folder: Path | None = None) -> int:
    """How many of the board's entries are damaged and left off (for a note under the board)."""
    folder = Path(folder or board_dir())
    listed = [p for p in folder.glob("*.json") if p.name != "budget.json"] if folder.is_dir() else []
    return len(listed) - len(read_board(folder))


def remove_entry(name: str, folder: Path | None = None) -> bool:
    """Take one design off the board, its checkpoint with it. False if there was none."""
    folder = Path(folder or board_dir())
    if not NAME.fullmatch(name):  # a name from the board, never a path
        return False
    there = (folder / f"{name}.json").is_file()
    for suffix in (".json", ".pt"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)
    if there:
        bump("board", class_of(folder))
    return there


def clear_board(folder: Path | None = None) -> int:
    """Take every design off the board; the budget stays. Returns how many there were."""
    entries = read_board(folder)
    for entry in entries:
        remove_entry(entry.name, folder)
    return len(entries)


def ranked(entries: list[Entry]) -> list[Entry]:
    """Best test accuracy first; a tie goes to fewer parameters, then to the earlier design."""
    return sorted(entries, key=lambda e: (-round(e.test_accuracy, 6), e.params, e.name))


def pareto(entries: list[Entry]) -> set[str]:
    """The names of the designs on the Pareto front: none other is at least as accurate with
    fewer parameters, or more accurate with as few."""
    return {e.name for e in entries
            if not any((o.test_accuracy >= e.test_accuracy and o.params < e.params)
                       or (o.test_accuracy > e.test_accuracy and o.params <= e.params) for o in entries)}


def new_nickname(rng: random.Random | None = None) -> str:
    """A generated nickname, e.g. "SwiftOtter42": friendly, anonymous, and a safe file name."""
    rng = rng or random.Random()
    return f"{rng.choice(_ADJECTIVES)}{rng.choice(_ANIMALS)}{rng.randrange(10, 100)}"


def nickname_problem(nickname: str) -> Message | None:
    """Why a nickname can't be used (it also names files), or None."""
    if NICKNAME.fullmatch(nickname):
        return None
    return Message("board.bad_nickname", value=nickname[:40])


# ---- trying a design: a run on the job queue that ends on the board ---------------------------

def try_design(design: str, activation: str | None, nickname: str, owner: str, *, teacher: bool,
               wait: bool = True, jobs: JobQueue | None = None) -> Job:
    """A student's (or the teacher's) design, trained under the class budget on `jobs` (the
    server's JOBS): queued behind the runs before it (`wait`), or started now (home, with no
    teacher key; JobBusy if a run is going). Raises ValueError, saying why, for a closed class, a
    bad nickname or an impossible design; JobBusy if `owner` has a design waiting already."""
    folder, jobs = board_dir(), jobs or JOBS
    budget = read_budget(folder)
    if not budget.open and not teacher:
        raise ValueError(Message("board.closed"))
    if nickname_problem(nickname) is not None:
        raise ValueError(nickname_problem(nickname))
    config = budget.config(design, activation)
    state = RunState(config=config, name=f"{run_name(config)}-{nickname}", folder=folder, owner=owner, first=teacher,
                     board=True)
    job = Job(state, score_on=collection_dir(), cap=MAX_ENTRIES, after=lambda s: record(s, nickname),
              max_wait_s=DESIGN_WAIT_S, threads=1)
    return jobs.enqueue(job) if wait else jobs.start(job)


def record(state: RunState, nickname: str) -> Entry | None:
    """Put a finished design on the board (a stopped or failed one goes nowhere)."""
    if state.status is not Status.FINISHED or not state.epochs:
        return None
    last, found = state.epochs[-1], check(state.config.design or "", state.config.activation or "relu")
    score, wall_s = (*(state.class_score or (None, 0)), "")[:3], (state.ended or time.time()) - state.started
    config = state.config  # made by Budget.config(): the budget it trained under, read back from it
    budget = Budget(images=config.limit, epochs=config.epochs, seed=config.seed, params=config.max_params,
                    multiply_adds=config.max_multiply_adds).record()
    entry = Entry(name=state.name, nickname=nickname, design=state.config.design or "",
                  activation=state.config.activation or "relu", params=found.params,
                  multiply_adds=found.multiply_adds, train_s=round(last["elapsed_s"], 2), wall_s=round(wall_s, 2),
                  test_accuracy=last["eval_accuracy"], class_accuracy=score[0], class_count=score[1],
                  owner=state.owner or "", class_set=score[2], budget=budget)
    write_entry(entry, state.folder)
    return entry


def eta_s(ahead: list[RunState], mine: RunState, entries: list[Entry], budget: Budget) -> float | None:
    """Seconds until `mine` has finished: the runs ahead, then itself, each at the pace of the
    last designs that finished here (the median of five), scaled by its images × epochs; a run
    under way by its own pace so far. None until a design has finished on this server."""
    recent = sorted(entries, key=lambda e: e.name)[-5:]
    if not recent:
        return None
    per_sample = statistics.median(e.wall_s for e in recent) / (budget.images * budget.epochs)
    total = 0.0
    for state in [*ahead, mine]:
        samples = (state.config.limit or TRAIN_SIZE) * state.config.epochs
        total += state.eta_s if state.eta_s is not None else per_sample * samples
    return total
