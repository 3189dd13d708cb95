"""Wrong teacher keys cost time, per browser and per address, never for everyone.

    gate = Throttle()
    gate.wait_s(browser, address, named=True)   # 0: may try now
    gate.failed(browser, address)               # a wrong key
    gate.succeeded(browser)                     # the right one: its count is cleared

Behind replicas the counts live in the shared store (store.py), so N replicas allow no more
guesses than one: `lenet:throttle:browser:<id>` (a hash: wrong keys in a row, the last's time)
and `lenet:throttle:address:<address>` (a sorted set of the wrong keys' times in the window).
While the store is away, and on a lone server, each process counts its own.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from .store import Down, key, store

__all__ = ["Throttle"]

FORGIVEN_S = 3600.0  # an hour's silence: a browser's wrong keys are forgiven
log = logging.getLogger("lenet.throttle")


class _Local:
    """This process's own counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._browsers: dict[str, tuple[int, float]] = {}  # browser -> (wrong keys in a row, when the last was)
        self._addresses: dict[str, deque[float]] = {}  # address -> when each wrong key in its window came

    def counts(self, browser: str, address: str, now: float, window_s: float) -> tuple[int, float, list[float]]:
        with self._lock:
            self._forget(now, window_s)
            wrong, last = self._browsers.get(browser, (0, now))
            return wrong, last, list(self._addresses.get(address, ()))

    def failed(self, browser: str, address: str | None, now: float) -> int:
        with self._lock:
            wrong = self._browsers.get(browser, (0, now))[0] + 1
            self._browsers[browser] = (wrong, now)
            if address:
                self._addresses.setdefault(address, deque()).append(now)
            return wrong

    def succeeded(self, browser: str) -> None:
        with self._lock:
            self._browsers.pop(browser, None)

    def _forget(self, now: float, window_s: float) -> None:
        for address, times in list(self._addresses.items()):
            while times and now - times[0] > window_s:
                times.popleft()
            if not times:
                del self._addresses[address]
        for browser in [b for b, (_, last) in self._browsers.items() if now - last > FORGIVEN_S]:
            del self._browsers[browser]


class _Shared:
    """The counts every replica shares, in the store; each call raises Down while it is away."""

    def counts(self, browser: str, address: str, now: float, window_s: float) -> tuple[int, float, list[float]]:
        pipe = store().pipeline()
        pipe.hmget(_browser_key(browser), ["wrong", "last"])
        pipe.zremrangebyscore(_address_key(address), "-inf", now - window_s)
        pipe.zrange(_address_key(address), 0, -1, withscores=True)
        (wrong, last), _, recent = pipe.execute()
        return int(wrong or 0), float(last or now), sorted(score for _, score in recent)

    def failed(self, browser: str, address: str | None, now: float, window_s: float) -> int:
        pipe = store().pipeline()  # MULTI: the count and its time together
        pipe.hincrby(_browser_key(browser), "wrong", 1).hset(_browser_key(browser), "last", now)
        pipe.expire(_browser_key(browser), int(FORGIVEN_S))
        if address:
            pipe.zadd(_address_key(address), {f"{now}-{secrets.token_hex(4)}": now})
            pipe.expire(_address_key(address), int(window_s) + 1)
        return int(pipe.execute()[0])

    def succeeded(self, browser: str) -> None:
        store().delete(_browser_key(browser))


def _browser_key(browser: str) -> str:
    return key("throttle", "browser", browser)


def _address_key(address: str) -> str:
    return key("throttle", "address", address)


class Throttle:
    """After `free` wrong keys in a row, a browser's next try waits `base_s`, doubling with every
    further wrong key (at most `most_s`). An address (a school's one NAT, say) with `address_free`
    wrong keys within `window_s` makes its browsers wait the same way, but only those that have
    failed themselves, or that the server could not name (no id): a browser with an id that has
    never failed, the teacher's, is never made to wait. A guesser can't buy such browsers faster
    than browsers.py's `Browsers` gives an address ids. A right key clears its browser's count."""

    def __init__(self, free: int = 5, address_free: int = 20, window_s: float = 600.0, base_s: float = 2.0,
                 most_s: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.free, self.address_free, self.window_s = free, address_free, window_s
        self.base_s, self.most_s, self.clock = base_s, most_s, clock
        self._local = _Local()

    def wait_s(self, browser: str, address: str | None = None, named: bool = False) -> float:
        """Seconds before `browser` (`named`: an id the server gave) may try a key again; 0 if now."""
        now = self.clock()
        wrong, last, recent = self._ask(lambda counts: counts.counts(browser, address or "", now, self.window_s))
        own = self._delay(wrong - self.free + 1, last)
        caught = recent and (wrong > 0 or not named)
        shared = self._delay(len(recent) - self.address_free + 1, recent[-1]) if caught else -float("inf")
        return max(0.0, own - now, shared - now)

    def failed(self, browser: str, address: str | None = None) -> int:
        """Count a wrong key; returns the browser's wrong keys in a row."""
        now = self.clock()
        self._local.failed(browser, address, now)  # kept here too: the store may be away at the next try
        return self._ask(lambda counts: counts.failed(browser, address, now, self.window_s),
                         lambda: self._local.counts(browser, "", now, self.window_s)[0])

    def succeeded(self, browser: str) -> None:
        self._local.succeeded(browser)
        self._ask(lambda counts: counts.succeeded(browser), lambda: None)

    def _ask(self, question: Callable, here: Callable | None = None):
        """The shared counts' answer; this process's own on a lone server or while the store is away."""
        if store() is not None:
            try:
                return question(_Shared())
            except Down as err:
                log.warning("the shared store is down (%s): wrong keys are counted on this replica only", err)
        return here() if here is not None else question(self._local)

    def _delay(self, over: int, since: float) -> float:
        """The moment a try is allowed again, the `over`-th wrong key from the last free one on."""
        return since + min(self.most_s, self.base_s * 2 ** (over - 1)) if over > 0 else -float("inf")
