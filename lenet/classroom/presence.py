"""Who is in a class now, and who follows the projector: "12 of 14 following".

A student's tab is here while its news stream is open (deploy/push.py): every page in a class
holds one, and it closes with the tab. The stream's address says whether the tab follows the
lead or explores on its own, so a student's choice opens a new stream and is counted at once.
One browser is one student, however many tabs: it follows if any of its tabs does.

Behind replicas each one writes its own tabs into the store (`lenet:here:<class>`, a field per
replica with the time it was written), again every tick; a replica's field older than STALE_S is
a replica gone, and is left out.
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .news import NO_CLASS, ORIGIN, bump
from .store import Down, key, store

__all__ = ["PRESENCE", "Presence", "STALE_S"]

STALE_S = 5.0  # a replica's list of tabs is rewritten every second (news.TICK_S); older, the replica is gone
log = logging.getLogger("lenet.presence")


class Presence:
    """The tabs of one server process, by class."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall time: replicas compare each other's (a test gives its own)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tabs: dict[int, tuple[str, str, bool]] = {}  # tab -> (class, browser, follows)

    @contextmanager
    def here(self, code: str | None, who: str, following: bool) -> Iterator[None]:
        """A tab of browser `who` is open in class `code` while inside."""
        code = code or NO_CLASS
        with self._lock:
            self._tabs[tab := next(self._ids)] = (code, who, following)
        self._changed(code)
        try:
            yield
        finally:
            with self._lock:
                self._tabs.pop(tab, None)
            self._changed(code)

    def local(self, code: str | None) -> dict[str, bool]:
        """This process's browsers in class `code`, each with whether it follows."""
        code, found = code or NO_CLASS, {}
        with self._lock:
            tabs = list(self._tabs.values())
        for where, who, following in tabs:
            if where == code:
                found[who] = found.get(who, False) or following
        return found

    def students(self, code: str | None, teacher: str | None) -> tuple[int, int]:
        """(following, here): the class's browsers on every replica, the teacher's left out."""
        found = self.local(code)
        for other in _others(code or NO_CLASS, self._clock()):
            for who, following in other.items():
                found[who] = found.get(who, False) or following
        found.pop(teacher, None)
        return sum(found.values()), len(found)

    def _changed(self, code: str) -> None:
        _share(code, self.local(code), self._clock())
        bump("here", None if code == NO_CLASS else code)

    def share_all(self) -> None:
        """Write every class's tabs into the store again (each tick), so they never look stale."""
        with self._lock:
            codes = {c for c, _, _ in self._tabs.values()}
        for code in codes:
            _share(code, self.local(code), self._clock())


def _share(code: str, tabs: dict[str, bool], now: float) -> None:
    shared = store()
    if shared is None:
        return
    try:
        shared.hset(key("here", code), ORIGIN, json.dumps({"at": now, "tabs": tabs}))
        shared.expire(key("here", code), int(STALE_S * 4))
    except Down:
        log.debug("the tabs of %s not shared: the store is down", code)


def _others(code: str, now: float) -> list[dict[str, bool]]:
    """The other replicas' tabs in class `code`, from the store; [] on a lone server or while it is down."""
    shared = store()
    if shared is None:
        return []
    try:
        fields = shared.hgetall(key("here", code))
    except Down:
        return []
    found = []
    for origin, raw in fields.items():
        try:
            written = json.loads(raw)
            if origin.decode() != ORIGIN and now - float(written["at"]) <= STALE_S:
                found.append({str(w): bool(f) for w, f in written["tabs"].items()})
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            continue
    return found


PRESENCE = Presence()  # the server process's one
