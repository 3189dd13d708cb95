"""One browser is one student: a signed id in a cookie, given by the app's own server to every
browser that hasn't one, so a new tab or a reload is the same student, and the teacher's sign-in
survives a reload (until the end of the day, or Sign out). Wrong teacher keys cost time per
browser and per address, never for everyone (throttle.py).

    lenet_browser=3f2a…9c.ZBx4kQ.d1Vv…     the id, when it was made, and the server's signature

`Browsers` is the ASGI middleware that sets it (HttpOnly: no script on a page can read it;
SameSite=Lax: another site's page can't send it). deploy/asgi.py puts it in front of the app;
a page reads it from the websocket's request (st.context.cookies) with `browser_of`. An id that
is missing, edited or signed by another server is no id: a page then falls back to its own session.
An address is given at most `MINT_FREE` new ids in `MINT_WINDOW_S` (a class of 60 behind a school's
one address is far below it); past that its new browsers get none, so a guesser can't buy a fresh,
never-failed browser for every guess.

The secret signs ids on every replica alike: LENET_SECRET, or a random one kept beside the runs
(LENET_RUNS/.secret, readable by the server only), made on first use.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, TimestampSigner

from ..files import runs_root, write_atomic
from .replicas import replica

__all__ = ["COOKIE", "BrowserId", "Browsers", "address_of", "browser_of", "day_end", "forget_teacher",
           "new_browser", "recall_teacher", "remember_teacher"]

COOKIE = "lenet_browser"
MAX_AGE_S = 365 * 24 * 3600  # a school year: the same student all year on the same browser
MINT_FREE, MINT_WINDOW_S = 240, 600.0  # new ids one address may be given in ten minutes
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_lock = threading.Lock()


@dataclass(frozen=True)
class BrowserId:
    id: str  # 32 hex digits, random: the student


def _secret() -> bytes:
    """LENET_SECRET, else LENET_RUNS/.secret, made once (every replica shares the runs folder)."""
    if os.environ.get("LENET_SECRET"):
        return os.environ["LENET_SECRET"].encode()
    return _kept_secret(str(runs_root() / ".secret"))


@functools.lru_cache(maxsize=8)
def _kept_secret(path: str) -> bytes:
    """The secret file's bytes, made first if there is none: read once per process and folder."""
    with _lock:
        if not Path(path).is_file():
            write_atomic(Path(path), secrets.token_hex(32).encode(), mode=0o600)
        return Path(path).read_bytes()


def _signer() -> TimestampSigner:
    return TimestampSigner(_secret(), salt="lenet-browser")


def new_browser() -> str:
    """A fresh signed id, as the cookie holds it."""
    return _signer().sign(uuid.uuid4().hex).decode()


def browser_of(value: str | None) -> BrowserId | None:
    """The browser a cookie's value names; None for no cookie, one this server didn't sign, or
    one it signed over a school year ago."""
    if not value or len(value) > 200:
        return None
    try:
        text = _signer().unsign(value, max_age=MAX_AGE_S).decode()  # older than a school year: no id
    except BadSignature:  # SignatureExpired is one
        return None
    if len(text) != 32 or any(c not in "0123456789abcdef" for c in text):
        return None
    return BrowserId(id=text)


def address_of(ip: str | None, forwarded: str | None) -> str | None:
    """Where a request comes from; None for this machine. Behind our own nginx (a replica, reached
    from this machine), the address nginx saw: the last in X-Forwarded-For, the one nginx added;
    an address a browser wrote there itself comes before it and is never read."""
    local = ip is None or ip in LOOPBACK
    if local and forwarded and replica():
        ip = forwarded.split(",")[-1].strip()[:64]
    return None if ip is None or ip in LOOPBACK else ip


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    found = [value for key, value in scope.get("headers", []) if key == name]
    return b",".join(found).decode("latin-1") if found else None


def _cookie_in(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a cookie header this parser can't read: as if there were none
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


class Browsers:
    """ASGI middleware: a plain HTTP answer to a browser without a valid id sets one. The page's
    first answer carries it, so the websocket the page then opens carries it too. This machine's
    own browsers are never counted; another address past `mint_free` new ids in `window_s` gets
    none until the window has moved on (its pages still work, each session then its own)."""

    def __init__(self, app: Any, mint_free: int = MINT_FREE, window_s: float = MINT_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.mint_free, self.window_s, self.clock = app, mint_free, window_s, clock
        self._minted: dict[str, deque[float]] = {}  # address -> when each of its ids in the window was made
        self._swept = clock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or browser_of(_cookie_in(scope)) is not None or not self._may_mint(scope):
            await self.app(scope, receive, send)
            return
        cookie = (f"{COOKIE}={new_browser()}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Lax").encode()

        async def with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = message | {"headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, with_cookie)

    def _may_mint(self, scope: dict[str, Any]) -> bool:
        """Counts a new id for the request's address, if it may have one (one event loop: no lock)."""
        client = scope.get("client")
        where = address_of(client[0] if client else None, _header(scope, b"x-forwarded-for"))
        if where is None:
            return True
        now = self.clock()
        if now - self._swept > self.window_s:  # once a window, forget the addresses gone quiet
            self._minted = {a: t for a, t in self._minted.items() if now - t[-1] <= self.window_s}
            self._swept = now
        times = self._minted.setdefault(where, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        if len(times) >= self.mint_free:
            return False
        times.append(now)
        return True


def day_end(now: float | None = None) -> float:
    """time.time() of the coming midnight, local time: when a teacher's sign-in lapses."""
    t = time.localtime(now if now is not None else time.time())
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday + 1, 0, 0, 0, 0, 0, -1))


def _signin_file(browser: str) -> Path:
    return runs_root() / "signins" / f"{browser}.json"


def remember_teacher(browser: BrowserId, scope: str, key: str, now: float | None = None) -> None:
    """`browser` signed in as the teacher of `scope` ("*": every class) with `key`: kept until the
    day ends, on disk beside the runs, so a reload on any replica finds it. Only a digest of the
    key is kept, so a changed key ends the sign-in."""
    saved = {"scope": scope, "until": day_end(now), "key": _digest(key)}
    write_atomic(_signin_file(browser.id), json.dumps(saved).encode(), mode=0o600)


def recall_teacher(browser: BrowserId, keys: dict[str, str], now: float | None = None) -> str | None:
    """The scope `browser` signed in to today, if the key it used is still that scope's in `keys`
    (scope -> key); None if none, signed out, the day has ended, or the key has changed."""
    try:
        saved = json.loads(_signin_file(browser.id).read_text())
        scope, until, digest = str(saved["scope"]), float(saved["until"]), str(saved["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    current = keys.get(scope)
    fresh = (now if now is not None else time.time()) < until
    return scope if fresh and current is not None and hmac.compare_digest(_digest(current), digest) else None


def _digest(key: str) -> str:
    return hmac.new(_secret(), key.encode(), hashlib.sha256).hexdigest()


def forget_teacher(browser: BrowserId) -> None:
    """Sign out: this browser is a student again, on every replica."""
    _signin_file(browser.id).unlink(missing_ok=True)
