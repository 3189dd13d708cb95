"""Wrong teacher keys cost time per browser and per address, never for everyone: counted in this
process on a lone server, and in the shared store behind replicas."""
from __future__ import annotations

from lenet.classroom.throttle import Throttle
from tests.conftest import Clock, at_once


def test_five_wrong_keys_are_free_then_each_try_waits_twice_as_long():
    clock = Clock()
    gate = Throttle(clock=clock)
    for _ in range(5):
        assert gate.wait_s("a") == 0
        gate.failed("a")
    assert gate.wait_s("a") == 2.0 and gate.wait_s("b") == 0  # only this browser waits
    clock.now += 2.0
    assert gate.wait_s("a") == 0
    gate.failed("a")
    assert gate.wait_s("a") == 4.0  # back-off doubles
    for _ in range(20):
        gate.failed("a")
    assert gate.wait_s("a") == 300.0  # but never more than five minutes
    gate.succeeded("a")
    assert gate.wait_s("a") == 0


def test_wrong_keys_from_one_address_never_make_a_browser_that_has_not_failed_wait():
    # failed at 95003f1: 20 wrong keys from any sessions made every session wait, the teacher's too;
    # and at 8f961d0 a teacher's browser given its id after the wrong keys began waited with them
    clock = Clock()
    gate = Throttle(clock=clock)
    for i in range(30):  # thirty fresh ids from the school's one address, a wrong key each
        gate.failed(f"guesser-{i}", "10.0.0.7")
    for _ in range(1000):  # and a thousand from sessions with no id at all
        gate.failed("no-id", "10.0.0.7")
    assert gate.wait_s("teacher", "10.0.0.7", named=True) == 0  # the projector's browser, whenever it was opened
    assert gate.wait_s("guesser-3", "10.0.0.7", named=True) > 0  # failed: waits for the address
    assert gate.wait_s("session-only", "10.0.0.7") > 0  # no id the server gave: waits for the address
    assert gate.wait_s("session-only", "10.0.0.8") == 0  # another address: nothing to do with it
    gate.failed("teacher", "10.0.0.7")
    assert gate.wait_s("teacher", "10.0.0.7", named=True) > 0  # a typo: now it has failed too
    clock.now += 3601  # the window, and the hour, have passed
    assert gate.wait_s("teacher", "10.0.0.7", named=True) == gate.wait_s("session-only", "10.0.0.7") == 0


def test_the_throttle_counts_every_failure_from_many_threads():
    gate = Throttle()
    at_once(lambda: [gate.failed("shared", "10.0.0.7") for _ in range(100)], threads=8)
    assert gate.failed("shared") == 801 and gate.wait_s("x", "10.0.0.7") > 0
    assert len(gate._local.counts("x", "10.0.0.7", gate.clock(), gate.window_s)[2]) == 800


def test_behind_replicas_wrong_keys_count_on_every_replica(shared):
    # failed at 0ffbb93: each replica counted its own, so N replicas allowed N times the guesses
    clock = Clock()
    r1, r2 = Throttle(clock=clock), Throttle(clock=clock)  # two replicas' throttles, one store
    for _ in range(5):
        r1.failed("guesser", "10.0.0.7")
    assert r2.wait_s("guesser", "10.0.0.7", named=True) == 2.0  # r2 knows the five
    for i in range(20):
        (r1 if i % 2 else r2).failed(f"fresh-{i}", "10.0.0.7")
    assert r1.wait_s("session-only", "10.0.0.7") > 0 and r2.wait_s("session-only", "10.0.0.7") > 0
    assert r2.wait_s("teacher", "10.0.0.7", named=True) == 0  # never failed: never waits
    r2.succeeded("guesser")
    assert r1.failed("guesser") == 1  # cleared everywhere
    clock.now += 601
    assert r1.wait_s("session-only", "10.0.0.7") == 0  # the window has passed on the store too


def test_while_the_store_is_away_each_replica_still_counts_its_own(shared, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    gate = Throttle(clock=Clock())
    for _ in range(5):
        assert gate.wait_s("guesser", "10.0.0.7", named=True) == 0
        gate.failed("guesser", "10.0.0.7")
    assert gate.wait_s("guesser", "10.0.0.7", named=True) == 2.0
