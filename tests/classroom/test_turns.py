"""Page runs take turns (lenet/classroom/turns.py): no more than `width` at once; openings before the
rest, each kind in order of arrival; a run holding a turn takes no other; a turn stepped aside from goes
to the next run and comes back, or, when the block raises (a page switch), is given back once; the rest
of a page lets the openings waiting pass, and goes on before the other pages; a run waits while the
line moves, and goes beside a turn held still for longest_s; and from many threads, every turn given
back. Threads are sequenced by events and by the queue's own count; the turns' clock, where it
matters, is the test's."""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from lenet.classroom.turns import Turns
from tests.conftest import HANG_S


def _until(done: Callable[[], bool]) -> None:
    """Wait (without a clock of ours) until done(): another thread has reached its place."""
    ready = threading.Event()
    for _ in range(100_000):
        if done():
            return
        ready.wait(0.001)
    raise AssertionError("never came")


def _start(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _joined(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(HANG_S)
        assert not thread.is_alive(), "a run is still waiting for its turn"


def test_openings_go_first_and_each_kind_in_order_of_arrival():
    turns, order, free = Turns(width=1, longest_s=HANG_S), [], threading.Event()

    def holder() -> None:
        with turns.turn():
            free.wait(HANG_S)

    def run(name: str, opening: bool) -> None:
        with turns.turn(opening=opening):
            order.append(name)

    first = _start(holder)
    _until(lambda: turns.holding() == 1)
    waiters = []
    for n, (name, opening) in enumerate([("page a", False), ("opening b", True), ("page c", False),
                                         ("opening d", True)], start=1):
        waiters.append(_start(lambda name=name, opening=opening: run(name, opening)))
        _until(lambda n=n: turns.waiting() == n)  # arrived, in this order
    free.set()
    _joined(first, *waiters)
    assert order == ["opening b", "opening d", "page a", "page c"]
    assert (turns.holding(), turns.waiting()) == (0, 0)


def test_no_more_than_width_at_once_and_width_without_waiting():
    turns, inside, most, lock = Turns(width=2, longest_s=HANG_S), [0], [0], threading.Lock()
    both, free = threading.Barrier(2, timeout=HANG_S), threading.Event()

    def pair() -> None:  # two runs hold turns together: neither waits for the other
        with turns.turn():
            both.wait()
            free.wait(HANG_S)

    held = [_start(pair), _start(pair)]
    _until(lambda: turns.holding() == 2)
    assert turns.waiting() == 0

    def run(opening: bool) -> None:
        with turns.turn(opening=opening):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            with lock:
                inside[0] -= 1

    crowd = [_start(lambda i=i: run(i % 2 == 0)) for i in range(16)]
    _until(lambda: turns.waiting() == 16)  # a third waits while two hold
    free.set()
    _joined(*held, *crowd)
    assert most[0] <= 2
    assert (turns.holding(), turns.waiting()) == (0, 0)


def test_a_run_holding_a_turn_takes_no_other():
    turns = Turns(width=1, longest_s=HANG_S)

    def nested() -> None:  # a fragment drawn inside its page's run
        with turns.turn(opening=True), turns.turn(), turns.turn(opening=True):
            assert turns.holding() == 1

    _joined(_start(nested))
    assert (turns.holding(), turns.waiting()) == (0, 0)


def test_a_run_waits_while_the_line_moves_and_goes_when_a_turn_is_stuck():
    now = [0.0]  # the turns' clock: no turn has changed hands for now[0] - (its last change) seconds
    turns, free, went = Turns(width=1, longest_s=0.01, clock=lambda: now[0]), threading.Event(), threading.Event()

    def stuck() -> None:  # a first visitor's page loading MNIST, say
        with turns.turn():
            free.wait(HANG_S)

    def run() -> None:
        with turns.turn(opening=True):
            went.set()
            free.wait(HANG_S)

    holder = _start(stuck)
    _until(lambda: turns.holding() == 1)
    waiter = _start(run)
    _until(lambda: turns.waiting() == 1)
    assert not went.wait(0.2), "a run went beside another while the line was moving"  # ~20 of its looks
    now[0] = 1.0  # the holder has held its turn for longer than longest_s
    assert went.wait(HANG_S), "a run waited for as long as a stuck turn was held"
    assert turns.holding() == 2  # beside it
    free.set()
    _joined(holder, waiter)
    assert (turns.holding(), turns.waiting()) == (0, 0)


def test_a_turn_stepped_aside_from_goes_to_the_next_and_comes_back():
    turns, order, aside, back = Turns(width=1, longest_s=HANG_S), [], threading.Event(), threading.Event()

    def switching() -> None:
        with turns.turn(opening=True):
            order.append("a before")
            with turns.aside():
                aside.set()
                back.wait(HANG_S)  # st.switch_page's sleep: the next run draws meanwhile
            order.append("a after")

    def next_run() -> None:
        with turns.turn():
            order.append("b")
        back.set()

    a = _start(switching)
    assert aside.wait(HANG_S)
    _joined(_start(next_run), a)
    assert order == ["a before", "b", "a after"]
    assert (turns.holding(), turns.waiting()) == (0, 0)


def test_a_page_lets_the_openings_waiting_pass_and_goes_on_before_the_other_pages():
    turns, order, waiting = Turns(width=1, longest_s=HANG_S), [], threading.Event()

    def page(name: str, opening: bool) -> None:
        with turns.turn(opening=opening):
            order.append(name)

    def teacher() -> None:  # the rest of the teacher's page, while the class's tops come in
        with turns.turn():
            order.append("teacher's sidebar")
            waiting.wait(HANG_S)
            turns.let_openings_pass()
            order.append("teacher's page")
            with turns.turn(opening=True):  # a part drawn in it takes no turn of its own, nor lets any pass
                turns.let_openings_pass()
                order.append("its part")

    first = _start(teacher)
    _until(lambda: order == ["teacher's sidebar"])
    others = []
    for n, (name, opening) in enumerate([("student's page", False), ("top a", True), ("top b", True)], start=1):
        others.append(_start(lambda name=name, opening=opening: page(name, opening)))
        _until(lambda n=n: turns.waiting() == n)
    waiting.set()
    _joined(first, *others)
    assert order == ["teacher's sidebar", "top a", "top b", "teacher's page", "its part", "student's page"]
    assert (turns.holding(), turns.waiting()) == (0, 0)


def test_a_page_switch_in_an_aside_gives_the_turn_back_once():
    turns = Turns(width=1, longest_s=HANG_S)
    with pytest.raises(RuntimeError, match="switch"):
        with turns.turn(opening=True), turns.aside():
            raise RuntimeError("switch")  # st.switch_page ends the run with an exception
    assert (turns.holding(), turns.waiting()) == (0, 0)
    with turns.turn():  # and the next run takes it at once
        assert turns.holding() == 1


def test_from_many_threads_every_turn_is_given_back():
    turns, lock, inside, most = Turns(width=1, longest_s=HANG_S), threading.Lock(), [0], [0]

    def runs(i: int) -> None:
        for k in range(50):
            with turns.turn(opening=(i + k) % 3 == 0):
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                if k % 5 == 0:
                    with lock:
                        inside[0] -= 1
                    with turns.aside():
                        pass
                    with lock:
                        inside[0] += 1
                with lock:
                    inside[0] -= 1

    _joined(*[_start(lambda i=i: runs(i)) for i in range(8)])
    assert most[0] == 1
    assert (turns.holding(), turns.waiting()) == (0, 0)
