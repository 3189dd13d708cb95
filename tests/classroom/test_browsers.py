"""One browser, one student: the signed id the app's own server gives, a teacher's sign-in that
lasts the day, and wrong keys that cost time per browser and per address, never for everyone."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from lenet.classroom import browsers
from lenet.classroom.browsers import (
    COOKIE,
    Browsers,
    Throttle,
    browser_of,
    day_end,
    forget_teacher,
    new_browser,
    recall_teacher,
    remember_teacher,
)
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


def test_a_browser_without_an_id_is_given_one_and_keeps_it(runs):
    sent: list[dict] = []

    async def page(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def ask(cookie: bytes | None) -> list[tuple[bytes, bytes]]:
        sent.clear()
        headers = [(b"cookie", cookie)] if cookie else []
        await Browsers(page)({"type": "http", "headers": headers}, None, lambda m: _keep(sent, m))
        return sent[0]["headers"]

    given = [v for k, v in served(ask(None)) if k == b"set-cookie"]
    assert len(given) == 1 and b"HttpOnly" in given[0] and b"SameSite=Lax" in given[0]
    value = given[0].split(b";")[0].split(b"=", 1)[1]
    assert browser_of(value.decode()) is not None
    assert not [v for k, v in served(ask(COOKIE.encode() + b"=" + value)) if k == b"set-cookie"]  # kept
    assert [v for k, v in served(ask(COOKIE.encode() + b"=forged")) if k == b"set-cookie"]  # replaced


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


def test_wrong_keys_from_one_address_never_lock_out_a_teacher_whose_browser_has_not_failed():
    # failed at 95003f1: 20 wrong keys from any sessions made every session wait, the teacher's too
    clock = Clock()
    gate = Throttle(clock=clock)
    teacher_born = clock.now - 600  # the projector's browser, opened before class
    clock.now += 1
    for i in range(30):  # thirty fresh ids from the school's one address, a wrong key each
        gate.failed(f"guesser-{i}", "10.0.0.7")
    assert gate.wait_s("teacher", "10.0.0.7", born=teacher_born) == 0
    assert gate.wait_s("guesser-3", "10.0.0.7", born=clock.now - 5) > 0  # failed: waits for the address
    assert gate.wait_s("fresh-id", "10.0.0.7", born=clock.now) > 0  # a new id asked for meanwhile: waits too
    assert gate.wait_s("elsewhere", "10.0.0.8", born=clock.now) == 0  # another address: nothing to do with it
    clock.now += 601  # the window has passed
    assert gate.wait_s("fresh-id", "10.0.0.7", born=clock.now) == 0


def test_the_throttle_counts_every_failure_from_many_threads():
    gate = Throttle()
    at_once(lambda: [gate.failed("shared", "10.0.0.7") for _ in range(100)], threads=8)
    assert gate.failed("shared") == 801 and len(gate._addresses["10.0.0.7"]) == 800


@pytest.mark.parametrize("secret", ["from-the-environment"])
def test_every_replica_signs_alike_with_the_shared_secret(runs, monkeypatch, secret):
    monkeypatch.setenv("LENET_SECRET", secret)
    value = new_browser()
    monkeypatch.setattr(browsers, "runs_root", lambda: runs / "elsewhere")  # another replica, same secret
    assert browser_of(value) is not None
    monkeypatch.setenv("LENET_SECRET", "another-school")
    assert browser_of(value) is None
