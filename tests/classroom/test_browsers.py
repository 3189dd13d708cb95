"""One browser, one student: the signed id the app's own server gives, a teacher's sign-in that
lasts the day, and wrong keys that cost time per browser and per address, never for everyone."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from itsdangerous import TimestampSigner

from lenet.classroom import browsers
from lenet.classroom.browsers import (
    COOKIE,
    Browsers,
    address_of,
    browser_of,
    day_end,
    forget_teacher,
    new_browser,
    recall_teacher,
    remember_teacher,
)
from lenet.classroom.throttle import Throttle
from tests.conftest import Clock, at_once


def test_an_id_is_the_server_s_own_and_an_edited_one_is_no_id(runs):
    value = new_browser()
    found = browser_of(value)
    assert found is not None and len(found.id) == 32 and (runs / ".secret").stat().st_mode & 0o077 == 0
    raw, stamp, signature = value.split(".")
    other = "0" * 32 if raw != "0" * 32 else "1" * 32
    for forged in (f"{other}.{stamp}.{signature}", value[:-1] + ("A" if value[-1] != "A" else "B"), raw, "", None,
                   "x" * 5000, "../../etc/passwd", "٣" * 32):
        assert browser_of(forged) is None
    aged = _YearOld(browsers._secret(), salt="lenet-browser").sign(raw).decode()
    assert browser_of(aged) is None  # a year old: the browser is given a new one


class _YearOld(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - browsers.MAX_AGE_S - 60


def test_a_browser_without_an_id_is_given_one_and_keeps_it(runs):
    sent: list[dict] = []

    async def ask(cookie: bytes | None) -> list[tuple[bytes, bytes]]:
        sent.clear()
        headers = [(b"cookie", cookie)] if cookie else []
        await Browsers(_page)({"type": "http", "headers": headers}, None, lambda m: _keep(sent, m))
        return sent[0]["headers"]

    given = [v for k, v in served(ask(None)) if k == b"set-cookie"]
    assert len(given) == 1 and b"HttpOnly" in given[0] and b"SameSite=Lax" in given[0]
    value = given[0].split(b";")[0].split(b"=", 1)[1]
    assert browser_of(value.decode()) is not None
    assert not [v for k, v in served(ask(COOKIE.encode() + b"=" + value)) if k == b"set-cookie"]  # kept
    assert [v for k, v in served(ask(COOKIE.encode() + b"=forged")) if k == b"set-cookie"]  # replaced


async def _page(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _keep(sent: list[dict], message: dict) -> None:
    sent.append(message)


def served(answer):
    """Run one request through the middleware on an event loop of its own, in a thread of its own:
    the browser tests' Playwright keeps a loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, answer).result()


def test_a_teacher_s_sign_in_lasts_until_the_day_ends_or_sign_out(runs):
    me = browser_of(new_browser())
    now = 1_800_000_000.0
    remember_teacher(me, "*", "school-key", now=now)
    assert recall_teacher(me, {"*": "school-key"}, now=now + 60) == "*"
    assert recall_teacher(me, {"*": "school-key"}, now=day_end(now) + 1) is None  # a new day: sign in again
    assert recall_teacher(me, {"*": "a-new-key"}, now=now + 60) is None  # the key was changed
    assert recall_teacher(me, {"7a": "school-key"}, now=now + 60) is None  # no longer a key of that scope
    assert "school-key" not in next((runs / "signins").iterdir()).read_text()
    forget_teacher(me)
    assert recall_teacher(me, {"*": "school-key"}, now=now + 60) is None


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


def test_an_address_is_given_only_so_many_new_ids_so_a_guesser_can_t_buy_unfailed_browsers(runs, monkeypatch):
    # failed at 8f961d0: every request without a cookie got a new id, so a fresh never-failed browser each guess
    clock = Clock()
    door = Browsers(_page, mint_free=3, window_s=600.0, clock=clock)

    def given(client: str | None, forwarded: bytes | None = None) -> bool:
        headers = [(b"x-forwarded-for", forwarded)] if forwarded else []
        scope = {"type": "http", "headers": headers, "client": (client, 50000) if client else None}
        sent: list[dict] = []
        served(door(scope, None, lambda m: _keep(sent, m)))
        return any(k == b"set-cookie" for k, _ in sent[0]["headers"])

    assert [given("10.0.0.7") for _ in range(5)] == [True, True, True, False, False]
    assert given("10.0.0.8") and given("127.0.0.1") and given(None)  # another address; this machine, always
    assert given("127.0.0.1", b"10.0.0.7")  # a lone server: a header a browser wrote is not read
    monkeypatch.setenv("LENET_REPLICA", "r1")  # behind our nginx: its last X-Forwarded-For entry is the address
    assert not given("127.0.0.1", b"10.0.0.9, 10.0.0.7") and given("127.0.0.1", b"10.0.0.7, 10.0.0.9")
    clock.now += 601
    assert given("10.0.0.7")  # the window has moved on


def test_the_address_is_the_socket_s_or_behind_our_nginx_the_one_nginx_wrote(monkeypatch):
    monkeypatch.delenv("LENET_REPLICA", raising=False)
    assert address_of("10.0.0.7", "1.2.3.4") == "10.0.0.7" and address_of("127.0.0.1", "1.2.3.4") is None
    assert address_of(None, None) is None and address_of("::1", None) is None
    monkeypatch.setenv("LENET_REPLICA", "r1")
    assert address_of("127.0.0.1", "6.6.6.6, 10.0.0.7") == "10.0.0.7"  # what the browser wrote comes first
    assert address_of(None, " 10.0.0.7 ") == "10.0.0.7" and address_of("127.0.0.1", "127.0.0.1") is None
    assert address_of("10.0.0.8", "10.0.0.7") == "10.0.0.8"  # not from this machine: not our nginx
    assert len(address_of("127.0.0.1", "x" * 5000)) == 64


def test_the_throttle_counts_every_failure_from_many_threads():
    gate = Throttle()
    at_once(lambda: [gate.failed("shared", "10.0.0.7") for _ in range(100)], threads=8)
    assert gate.failed("shared") == 801 and gate.wait_s("x", "10.0.0.7") > 0
    assert len(gate._local.counts("x", "10.0.0.7", gate.clock(), gate.window_s)[2]) == 800


def test_behind_replicas_wrong_keys_count_on_every_replica(shared):
    # failed at 8f961d0: each replica counted its own, so N replicas allowed N times the guesses
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


@pytest.mark.parametrize("secret", ["from-the-environment"])
def test_every_replica_signs_alike_with_the_shared_secret(runs, monkeypatch, secret):
    monkeypatch.setenv("LENET_SECRET", secret)
    value = new_browser()
    monkeypatch.setattr(browsers, "runs_root", lambda: runs / "elsewhere")  # another replica, same secret
    assert browser_of(value) is not None
    monkeypatch.setenv("LENET_SECRET", "another-school")
    assert browser_of(value) is None
