"""What replicas share lives in Redis: the server at REDIS_URL (`make serve-replicas` starts
Debian's redis-server and sets it; a school may point it at its own). A lone server has no
REDIS_URL and shares nothing: `store()` is None, and every caller keeps to its own process.

    lenet:lock                  who trains now, with a lease its holder renews (replicas.py)
    lenet:run:<class>           the class's latest run: its state as JSON, its tensors and film
                                as torch.save bytes, who published it (replicas.py)
    lenet:stop:<run>:<start>    a Stop pressed on another replica, for that very run (replicas.py)
    lenet:news:<class>          a channel: a run's news, published as it comes
    lenet:mutex:<name>          a short lock around a collection's save or Clear (`mutex`)

Redis may be down, or restarted empty, in the middle of a lesson. Every call here is short
(a one-second timeout) and its callers treat `Down` as "nothing shared just now": pages keep
answering drawings, and the run's own replica writes everything again at its next publish.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis

__all__ = ["ENV", "Down", "key", "mutex", "store"]

ENV = "REDIS_URL"
TIMEOUT_S = 1.0  # a call to a store that has gone away fails within this: a page never hangs on it
MUTEX_S = 30.0  # a mutex whose holder died lapses after this (a save or a Clear takes far less)
Down = redis.RedisError  # what any call raises while the store can't be reached
log = logging.getLogger("lenet.store")
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def store() -> redis.Redis | None:
    """The shared store, or None on a lone server (no REDIS_URL)."""
    url = os.environ.get(ENV)
    return _client(url) if url else None


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    """One client per URL and process; its pool makes new connections after a fork or a restart."""
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S,
                                health_check_interval=10)


def key(*parts: str) -> str:
    return ":".join(("lenet", *parts))


def _local(name: str) -> threading.Lock:
    with _guard:
        return _locks.setdefault(name, threading.Lock())


@contextmanager
def mutex(name: str) -> Iterator[None]:
    """One holder at a time of `name`: across replicas through the store, within this process
    always (so a store that is down costs the exclusion between replicas, never the save)."""
    with _local(name):
        shared = store()
        lock = None if shared is None else shared.lock(key("mutex", name), timeout=MUTEX_S, blocking_timeout=MUTEX_S)
        try:
            held = lock is not None and lock.acquire()
        except Down as err:
            log.warning("the shared store is down (%s): %s is guarded on this replica only", err, name)
            held = False
        try:
            yield
        finally:
            if held:
                try:
                    lock.release()
                except Down:  # lapsed, or the store went away: its timeout frees it
                    pass
