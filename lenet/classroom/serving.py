"""What the pages of a class server share with the training process: the count of pages being
served (training waits for them), MNIST in shared memory, and the warm-up before the first visitor.

Pages come first: a page run wraps its work in `pages_first()`, a counter the trainer reads through
shared memory, and the trainer waits between two batches while any page is being served (at
most protocol.MAX_WAIT_S), so a class drawing on the same server is answered first.
"""
from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..data import Mnist, ensure_mnist, load_mnist, mnist_here

__all__ = ["context", "mnist", "offline", "pages_counter", "pages_first", "set_training_nice", "shared_mnist",
           "training_nice", "warm_up"]

PRELOAD = ["lenet.classroom.trainer", "torchvision.datasets"]  # what the fork server imports once (~2.5 s)

_lock = threading.Lock()
_pages = 0  # page runs in progress, in every session
_shared_pages: Any = None  # the same count in shared memory, read by the training process
_data: Mnist | None = None
_data_lock = threading.Lock()
_warming = False
_fetch_failed = -math.inf  # time.monotonic() of the last failed background fetch of MNIST
RETRY_S = 120.0  # pages say "offline" at once for this long after a failed fetch, then a page's visit tries again
_nice = 0  # how far the training process steps back for page runs; the launcher sets it


def context() -> mp.context.BaseContext:
    """Fork server where there is one (Linux, macOS), else spawn; never plain fork, which would
    copy the server's threads and OpenMP state into the child."""
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


def pages_counter() -> Any:
    """The shared count of pages being served (a multiprocessing Value the trainer reads)."""
    global _shared_pages
    with _lock:
        if _shared_pages is None:
            _shared_pages = context().Value("i", 0, lock=False)
        return _shared_pages


@contextmanager
def pages_first() -> Iterator[None]:
    """Wrap a page's work (a prediction, a page run): training waits until it is done."""
    global _pages
    shared = pages_counter()
    with _lock:
        _pages += 1
        shared.value = _pages
    try:
        yield
    finally:
        with _lock:
            _pages -= 1
            shared.value = _pages


def set_training_nice(nice: int) -> None:
    """Nice every training process started from now on by `nice` (the launcher, ui/common/startup.py,
    uses 10 so that the server's own threads get the CPU first)."""
    global _nice
    _nice = nice


def training_nice() -> int:
    return _nice


def mnist(progress=lambda message: None) -> Mnist:
    """MNIST in memory, loaded (and fetched if needed) once per process, in shared memory."""
    global _data
    with _data_lock:
        if _data is None:
            _data = _in_shared_memory(load_mnist(progress=progress))
        return _data


def _in_shared_memory(data: Mnist) -> Mnist:
    """Move MNIST's tensors to shared memory once, before any session reads them (moving a
    tensor's storage while another thread reads it would not be safe). Each training process
    then maps these pages instead of loading a copy of its own: ~220 MB less, and on a busy
    server ~1 s less between Start and the first batch. Where shared memory is too small (a
    container's 64 MB /dev/shm), they stay private and each training process loads its own."""
    with contextlib.suppress(RuntimeError, OSError):
        for tensor in _tensors(data):
            tensor.share_memory_()
    return data


def _tensors(data: Mnist) -> list[torch.Tensor]:
    return [data.train.x, data.train.y, data.test.x, data.test.y]


def shared_mnist() -> Mnist | None:
    """The server's MNIST, for a training process to map, if it is loaded and all in shared memory."""
    data = _data
    return data if data is not None and all(t.is_shared() for t in _tensors(data)) else None


def warm_up() -> None:
    """Start the fork server and load MNIST in the background (fetching it first if it isn't
    here), so Start doesn't wait for them. Called by the launcher and by the router on a page's
    first run (both commands feel the same), and again by offline() once a failed fetch is old."""
    global _warming
    with _lock:
        if _warming:
            return
        _warming = True
    threading.Thread(target=_warm, daemon=True, name="training-warm-up").start()


def offline() -> bool:
    """MNIST isn't here, and fetching it failed less than RETRY_S ago: what needs it says so at
    once, rather than start a download the network refuses. After that a visit tries again."""
    if mnist_here():
        return False
    with _lock:
        failed_long_ago = not _warming and time.monotonic() - _fetch_failed >= RETRY_S
    if failed_long_ago:
        warm_up()
        return False
    return time.monotonic() - _fetch_failed < RETRY_S


def _warm() -> None:
    global _fetch_failed, _warming
    pages_counter()
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver
        forkserver.ensure_running()
    try:
        if not mnist_here():
            ensure_mnist()
        mnist()
    except Exception as err:  # offline, say: pages say so in one line (offline()); the details go to the log
        logging.getLogger("lenet.data").warning("MNIST is not available: %s", err)
        with _lock:
            _fetch_failed, _warming = time.monotonic(), False
