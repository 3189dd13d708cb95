"""Process tuning, applied on purpose: by the launcher (ui/common/startup.py) and the CLI, never on import.

Importing lenet changes nothing about the process. These functions do, when called.
"""
from __future__ import annotations

import ctypes
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD", "ThreadGovernor", "keep_freed_memory", "lower_thread_priority"]

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's <malloc.h>


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed blocks up to 16 MB instead of returning them to the OS.

    Preprocessing and the forward pass allocate and free ~1 MB arrays on every drawing; by
    default glibc unmaps each one and the next allocation page-faults it back in, which more
    than doubles the latency of a prediction (6.6 ms -> 2.9 ms on the machine it was measured
    on). Returns False, doing nothing, off glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    libc.mallopt(M_MMAP_THRESHOLD, 16 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 256 << 20)
    return True


def lower_thread_priority(nice: int) -> None:
    """Nice the calling thread (Linux lets one thread be niced alone; the threads it starts later,
    such as PyTorch's OpenMP workers, inherit it). Elsewhere it does nothing."""
    if nice <= 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):
        pass


class ThreadGovernor:
    """Chooses, by measuring, how many threads a niced training process uses: all of them while
    it has the cores to itself, one while something else wants a core.

    Why: OpenMP's threads meet at a barrier after every parallel region. When a program at a
    higher priority (the projector's browser, a class's predictions) takes one of two cores,
    the niced thread on it runs only now and then, and the other waits for it at every
    barrier. Measured on 2 cores with one core kept busy: 2 threads trained at 200-400
    samples/s, 1 thread at 5,900; with both cores free, 2 threads are ~1.5x faster than 1.

    Call `batch(seconds)` after every training step with the time the step took (not the time
    spent waiting for pages). It measures in windows of `window` steps (or of `window_s` of
    step time, but at least 5 steps, when steps are slow) by their median step, since a step
    that also evaluated the test set is no measure. Now and then it tries the other count
    again, as the load on the machine changes: at once when the speed halves, else after
    `retry_s`, waiting longer after each try that lost.
    """

    def __init__(self, most: int, set_threads: Callable[[int], None], window: int = 12, window_s: float = 0.3,
                 retry_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.most = max(1, most)
        self._set, self._clock = set_threads, clock
        self.threads = 1  # what is in use now: one to start, the count that is never disastrous
        set_threads(1)
        self._window, self._window_s, self._retry_s = window, window_s, retry_s
        self._rate: dict[int, float] = {}  # steps per second, from the last window's median, per thread count
        self._times: list[float] = []  # the step times of the window so far
        self._trying: int | None = None  # the count being tried, to be compared with the other
        self._next_try = clock()  # compare both counts right after the first window
        self._backoff = retry_s

    def batch(self, seconds: float) -> None:
        """Record one step's time; may change the thread count before the next step."""
        if self.most == 1:
            return
        self._times.append(seconds)
        before, known = self._rate.get(self.threads), self._rate.get(self._other())
        if self._trying is not None and known is not None and seconds * known > 3:
            self._rate[self.threads] = 1 / seconds  # one step 3× slower than the other count's: lost already
        elif len(self._times) < self._window and (len(self._times) < 5 or sum(self._times) < self._window_s):
            return
        else:  # the median step: a step that also evaluated the live probe or filmed a frame doesn't count
            self._rate[self.threads] = 1 / max(statistics.median(self._times), 1e-9)
        self._times = []
        if self._trying is not None:
            self._decide()
        elif self._clock() >= self._next_try or self._slowed(before):
            self._trying = self._other()
            self._use(self._trying)

    def _slowed(self, before: float | None) -> bool:
        """All threads, and half the speed of the last window: something else has taken a core."""
        return self.threads == self.most and before is not None and self._rate[self.threads] < before / 2

    def _decide(self) -> None:
        """The tried count has had its window: keep whichever of the two was faster."""
        tried, other = self._trying, self._other()
        self._trying = None
        if self._rate[tried] >= self._rate.get(other, 0.0):
            self._backoff = self._retry_s  # a change that paid: look again soon
        else:
            self._use(other)
            self._backoff = min(8 * self._retry_s, 2 * self._backoff)  # a try that lost: wait longer before the next
        self._next_try = self._clock() + self._backoff

    def _other(self) -> int:
        return 1 if self.threads == self.most else self.most

    def _use(self, threads: int) -> None:
        self.threads = threads
        self._set(threads)
