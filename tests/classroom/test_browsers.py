"""One browser, one student: the signed id the app's own server gives (at most so many to one
address), the address it comes from, and a teacher's sign-in that lasts the day."""
from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from harness.servers import run_async
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
from tests.conftest import Clock


def test_an_id_is_the_server_s_own_and_an_edited_one_is_no_id(runs):
    value = new_browser()
    found = browser_of(value)
    assert found is not None and len(found.id) == 32 and (runs / ".secret").stat().st_mode & 0o077 == 0
    raw, stamp, signature = value.split(".")
    other = "0" * 32 if raw != "0" * 32 else "1" * 32
    # its signature's second letter edited (the last may differ in padding bits only, and read back the same)
    edited = f"{raw}.{stamp}.{signature[0]}{'A' if signature[1] != 'A' else 'B'}{signature[2:]}"
    for forged in (f"{other}.{stamp}.{signature}", edited, raw, "", None,
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

    given = [v for k, v in run_async(ask(None)) if k == b"set-cookie"]
    assert len(given) == 1 and b"HttpOnly" in given[0] and b"SameSite=Lax" in given[0]
    value = given[0].split(b";")[0].split(b"=", 1)[1]
    assert browser_of(value.decode()) is not None
    assert not [v for k, v in run_async(ask(COOKIE.encode() + b"=" + value)) if k == b"set-cookie"]  # kept
    assert [v for k, v in run_async(ask(COOKIE.encode() + b"=forged")) if k == b"set-cookie"]  # replaced


async def _page(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _keep(sent: list[dict], message: dict) -> None:
    sent.append(message)


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


def test_an_address_is_given_only_so_many_new_ids_so_a_guesser_can_t_buy_unfailed_browsers(runs, monkeypatch):
    # failed at 8f961d0: every request without a cookie got a new id, so a fresh never-failed browser each guess
    clock = Clock()
    door = Browsers(_page, mint_free=3, window_s=600.0, clock=clock)

    def given(client: str | None, forwarded: bytes | None = None) -> bool:
        headers = [(b"x-forwarded-for", forwarded)] if forwarded else []
        scope = {"type": "http", "headers": headers, "client": (client, 50000) if client else None}
        sent: list[dict] = []
        run_async(door(scope, None, lambda m: _keep(sent, m)))
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


@pytest.mark.parametrize("secret", ["from-the-environment"])
def test_every_replica_signs_alike_with_the_shared_secret(runs, monkeypatch, secret):
    monkeypatch.setenv("LENET_SECRET", secret)
    value = new_browser()
    monkeypatch.setattr(browsers, "runs_root", lambda: runs / "elsewhere")  # another replica, same secret
    assert browser_of(value) is not None
    monkeypatch.setenv("LENET_SECRET", "another-school")
    assert browser_of(value) is None
