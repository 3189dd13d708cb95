"""Page runs take turns: at most `width` of them draw at once, and the short opening of a run (where a
led student's page says which step it is) goes before the long rest of any other.

    with TURNS.turn(opening=True):  # the page's top: the led step's line
        ...
    with TURNS.turn():  # the sidebar and the page
        ...
        TURNS.let_openings_pass()  # between its parts: the tops that came meanwhile go first

Streamlit runs each session's script in a thread of its own, and every one of them shares one
interpreter lock with the event loop that sends what they draw. When a class of sixty followed a
step, sixty runs drew at once, each at a sixtieth of the lock, and the loop sent next to nothing
until the last of them ended, ~3 s on (docs/performance.md). In turns, a waiting run holds no lock:
the loop sends each opening as it is drawn, and the pages come one by one, the first after one run.

While the line moves, a run waits its turn however long the line; when no turn has changed hands for
`longest_s` (a run holding one that long: a first visitor's page loading MNIST), the next goes anyway,
beside it, so a stuck run delays the others by that much, never for ever. A run already holding a turn
(a fragment drawn inside its page) takes no other.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["TURNS", "Turns"]


@dataclass(order=True)
class _Waiter:
    rank: tuple[int, int]  # (0 for an opening, 1 for the rest; arrival number): the queue's order
    given: threading.Event = field(default_factory=threading.Event, compare=False)


class Turns:
    """A queue of script runs, `width` at a time, openings first, each in order of arrival."""

    def __init__(self, width: int = 1, longest_s: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.width, self.longest_s, self._clock = width, longest_s, clock
        self._lock = threading.Lock()
        self._busy = 0  # runs holding a turn now
        self._queue: list[_Waiter] = []  # a heap
        self._arrivals = itertools.count()
        self._moved = clock()  # when a turn last changed hands
        self._held = threading.local()  # this thread holds a turn

    @contextmanager
    def turn(self, opening: bool = False) -> Iterator[None]:
        """Wait for a turn (while the line moves), hold it while the block runs."""
        if getattr(self._held, "now", False):
            yield
            return
        self._take(opening)
        self._held.now, self._held.opening = True, opening
        try:
            yield
        finally:
            if self._held.now:  # not stepped aside from for good (a page switch)
                self._held.now = False
                self._give_back()

    @contextmanager
    def aside(self) -> Iterator[None]:
        """Give the turn to the next run while the block waits (st.switch_page sleeps 10 ms so that what was
        drawn is sent before its rerun), and take one again after it; a block that raises (a page switch
        ends the run) takes none."""
        if not getattr(self._held, "now", False):
            yield
            return
        self._held.now = False
        self._give_back()
        yield
        self._take(opening=True)
        self._held.now = True

    def let_openings_pass(self) -> None:
        """In the rest of a page, between its parts: the openings waiting now go first (a step's sixty tops
        behind the teacher's own page, whose first run of a kind can take half a second), then this run."""
        if not getattr(self._held, "now", False) or self._held.opening:
            return
        with self._lock:
            if not self._queue or self._queue[0].rank[0] != 0:
                return
        with self.aside():
            pass

    def holding(self) -> int:
        """Runs holding a turn now."""
        with self._lock:
            return self._busy

    def waiting(self) -> int:
        """Runs waiting for one."""
        with self._lock:
            return len(self._queue)

    def _take(self, opening: bool) -> None:
        with self._lock:
            if self._busy < self.width and not self._queue:
                self._busy += 1
                self._moved = self._clock()
                return
            me = _Waiter((0 if opening else 1, next(self._arrivals)))
            heapq.heappush(self._queue, me)
        while not me.given.wait(self.longest_s):
            with self._lock:
                if me.given.is_set():
                    return
                if self._clock() - self._moved < self.longest_s:
                    continue  # the line moves: wait on
                self._queue.remove(me)  # stuck: go now, beside the runs that hold turns
                heapq.heapify(self._queue)
                self._busy += 1
                self._moved = self._clock()
                return

    def _give_back(self) -> None:
        with self._lock:
            self._busy -= 1
            self._moved = self._clock()
            while self._busy < self.width and self._queue:
                heapq.heappop(self._queue).given.set()
                self._busy += 1


TURNS = Turns()  # every session's runs in this process
