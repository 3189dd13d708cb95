"""Debian's redis-server under the replicas, as `make serve-replicas` starts it: in the
foreground, bound to 127.0.0.1 on a port of its own, nothing saved to disk (what it holds lives
only as long as a lesson: lenet/classroom/store.py).

    with redis_server(port) as url:        # "redis://127.0.0.1:<port>/0"
        ...                                # REDIS_URL=url for every replica

A school with a Redis of its own sets REDIS_URL, and none is started.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from deploy.supervise import running

START_S = 30.0  # redis-server answers within this, even on a busy machine


def redis_path() -> str | None:
    """Where Debian's redis-server is, or None."""
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin:/sbin")


def redis_binary() -> str:
    """Debian's redis-server; SystemExit saying how to install it if there is none."""
    found = redis_path()
    if found is None:
        raise SystemExit("redis-server is not installed: `sudo apt-get install redis-server` (Debian), then try again")
    return found


def command(port: int) -> list[str]:
    """redis-server on 127.0.0.1:`port`, in the foreground, keeping nothing on disk."""
    return [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"]


def wait_until_up(port: int, proc: subprocess.Popen) -> None:
    """Return once redis-server answers PING on `port`; RuntimeError if `proc` ends first or START_S pass."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not start on port {port} (exit code {proc.poll()})")


@contextmanager
def redis_server(port: int, out=subprocess.DEVNULL) -> Iterator[str]:
    """A redis-server on `port` for the block's length (supervise.py's `running`); yields its URL."""
    with running(command(port), dict(os.environ), out) as proc:
        wait_until_up(port, proc)
        yield f"redis://127.0.0.1:{port}/0"
