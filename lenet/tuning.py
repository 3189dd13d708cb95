"""Process tuning, applied on purpose: by the launcher (ui/serve.py) and the CLI, never on import.

Importing lenet changes nothing about the process. These functions do, when called.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading

__all__ = ["M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD", "keep_freed_memory", "lower_thread_priority"]

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
