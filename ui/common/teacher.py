"""Who may start, stop, continue and delete training runs.

With a teacher key set (the environment variable LENET_TEACHER_KEY, or `teacher_key` in
.streamlit/secrets.toml), only a session that has entered the key controls training; everyone
else watches the same run read-only and can still draw with the live model. With no key, the
app is open, for one person at home. The key travels only in a password field's form submit,
is compared in constant time, and is forgotten in the submit's own callback: it is never kept
in a URL, the session's state or a log. The browser that signed in is the teacher until the day
ends or Sign out (a reload too), remembered by its signed id with only a keyed digest of the key
(lenet/classroom/browsers.py). Wrong keys cost time per browser and per address (throttle.py),
and are logged without the key.

Deny by default: on a keyed server, an address opens a class only when a teacher made it
(`Access`); any other address may look, and never trains or saves.

A school's server may also give each class a key of its own: LENET_TEACHER_KEYS (or a
`[teacher_keys]` table in secrets.toml) maps class codes to keys, '{"7a": "...", "7b": "..."}'.
A class's key makes its teacher the teacher of that class only; LENET_TEACHER_KEY's teacher is
the teacher of every class, and may move their own session from class to class.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import uuid
from dataclasses import dataclass
from enum import Enum

import streamlit as st

from lenet.classroom.browsers import (
    COOKIE,
    BrowserId,
    address_of,
    browser_of,
    forget_teacher,
    recall_teacher,
    remember_teacher,
)
from lenet.classroom.throttle import Throttle
from lenet.files import is_class_code, is_made, make_class
from ui.common.classes import session_class
from ui.common.i18n import Text, text

ENV = "LENET_TEACHER_KEY"
ENV_CLASSES = "LENET_TEACHER_KEYS"  # class code -> key, as a JSON object
EVERY = "*"  # what `_teacher` holds for the teacher of every class; else the one class's code
FIELD = "teacher_key"  # the password field's widget key: emptied as soon as it has been checked
log = logging.getLogger("lenet.teacher")


@dataclass(frozen=True)
class Control:
    allowed: bool  # this session may start, stop, continue and delete runs
    line: str | None  # the key of the line that says who is in control; None: the router said it (a visitor)
    env: str = ENV  # the variable that sets the key, which the open-mode line names


class Access(Enum):
    """What a session may do. Deny by default: on a keyed server, an address opens a class only
    when a teacher made that class; any other address may look, never write."""
    OPEN = "open"  # no key on this server: one person at home, everything allowed
    TEACHER = "teacher"  # signed in with a key that opens this session's class
    STUDENT = "student"  # in a class a teacher made: draw, confirm drawings, try designs
    VISITOR = "visitor"  # a code no teacher made, or none where only classes have keys: read-only


THROTTLE = Throttle()  # one per server: wrong keys count per browser and per address


def teacher_key() -> str | None:
    """The key of every class, or None: the environment first, then secrets.toml."""
    return _configured(ENV, "teacher_key")


class KeysProblem(ValueError):
    """LENET_TEACHER_KEYS doesn't read: `key` and `values` say why, in any language; str() in English."""

    def __init__(self, key: str, **values: str) -> None:
        self.key, self.values = key, {"env": ENV_CLASSES, **values}
        super().__init__(Text("en")(self.key, **self.values))


def class_keys(raw: str | None) -> dict[str, str]:
    """LENET_TEACHER_KEYS's text as {class code: key}; {} for none. Raises KeysProblem for anything
    but a JSON object of class codes to non-empty texts."""
    if not raw:
        return {}
    try:
        keys = json.loads(raw)
    except ValueError:
        keys = None
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in keys.items()):
        raise KeysProblem("teacher.keys_not_object")
    bad = [code for code in keys if not is_class_code(code)]
    if bad:
        raise KeysProblem("teacher.keys_bad_code", code=repr(bad[0][:40]))
    return keys


def keys_for(code: str | None) -> tuple[list[tuple[str, str]], KeysProblem | None]:
    """The keys that make a teacher of class `code`, each with what it opens (EVERY class, or
    `code`), and what is wrong with LENET_TEACHER_KEYS if it doesn't read: then no class key opens
    anything, and the app is not open either (a broken key list must never mean "no keys")."""
    every = teacher_key()
    try:
        own, problem = class_keys(os.environ.get(ENV_CLASSES) or _configured_table()).get(code or ""), None
    except KeysProblem as err:
        own, problem = None, err
    return [(key, scope) for key, scope in ((every, EVERY), (own, code)) if key], problem


def _configured(env: str, secret: str) -> str | None:
    key = os.environ.get(env) or _secret(secret)
    return str(key) if key else None


def _configured_table() -> str | None:
    """secrets.toml's [teacher_keys] table, as the JSON LENET_TEACHER_KEYS would hold."""
    table = _secret("teacher_keys")
    return json.dumps(dict(table)) if table else None


def _secret(name: str) -> object:
    """A value of secrets.toml; None without one. Streamlit looks for the files again on every read
    while there are none, and raises: every run of every page reads this (a class's profile: 1%)."""
    if not any(os.path.exists(path) for path in st.get_option("secrets.files")):
        return None
    try:
        return st.secrets.get(name)
    except Exception:  # a secrets file that doesn't parse: no key from there
        return None


def key_matches(entered: str, key: str) -> bool:
    """Compare in constant time, so the time taken says nothing about how much was right."""
    return hmac.compare_digest(entered.encode(), key.encode())


def control_for(access: Access) -> Control:
    """The plain rule behind the page: who controls training, in words a class can read."""
    if access is Access.OPEN:
        return Control(allowed=True, line="teacher.open")
    if access is Access.TEACHER:
        return Control(allowed=True, line="teacher.you")
    return Control(allowed=False, line="teacher.not_you" if access is Access.STUDENT else None)


def browser() -> BrowserId | None:
    """This session's browser, from the signed cookie the app's server gives (deploy/asgi.py);
    None without one (AppTest, or plain `streamlit run app.py`): then each session is its own."""
    if "_browser" not in st.session_state:  # a session's cookie is its websocket's: read it once
        try:
            st.session_state["_browser"] = browser_of(st.context.cookies.get(COOKIE))
        except Exception:  # no request behind this run (a test's): no cookie
            st.session_state["_browser"] = None
    return st.session_state["_browser"]


def session_id() -> str:
    """An opaque id for this student: their browser's, so a new tab or a reload is the same
    student (one design each, "stopped by you"); else this session's own."""
    found = browser()
    return found.id if found is not None else st.session_state.setdefault("_session", uuid.uuid4().hex)


def address() -> str | None:
    """Where this session connects from (lenet/classroom/browsers.py's `address_of`); None for
    this machine."""
    return address_of(st.context.ip_address, st.context.headers.get("X-Forwarded-For"))


def keyed() -> bool:
    """A key is set on this server (for every class, or for any one class, even a list that
    doesn't read): it is a class's server, not one person's at home."""
    return bool(teacher_key() or os.environ.get(ENV_CLASSES) or _configured_table())


def class_made(code: str | None) -> bool:
    """On a keyed server, whether `code` opens a class: one with its own key, one the teacher of
    every class made (kept on disk), or, with no code, the class of the teacher of every class."""
    if code is None:
        return teacher_key() is not None
    return _has_own_key(code) or is_made(code)


def _has_own_key(code: str) -> bool:
    """LENET_TEACHER_KEYS gives class `code` a key of its own (its code is the configuration's)."""
    return any(scope == code for _, scope in keys_for(code)[0])


def access() -> Access:
    """What this session may do (see Access)."""
    if not keyed():
        return Access.OPEN
    if _signed_in():
        return Access.TEACHER
    return Access.STUDENT if class_made(session_class()) else Access.VISITOR


def may_write() -> bool:
    """This session may add to its class: a drawing, a design on the board (never a visitor)."""
    return access() is not Access.VISITOR


def _signed_in() -> bool:
    """This session, or earlier today its browser, entered a key that opens its class: the key of
    every class, or its own."""
    keys = {scope: key for key, scope in keys_for(session_class())[0]}
    if "_recalled" not in st.session_state:  # once a session, not on every run: a reload, a new tab
        found = browser()
        st.session_state["_recalled"] = True
        scope = recall_teacher(found, keys) if found is not None else None  # the same teacher all day
        if scope is not None:
            st.session_state["_teacher"] = scope
    scope = st.session_state.get("_teacher")
    return scope is not None and scope in keys


def control() -> Control:
    return control_for(access())


def may_rotate() -> bool:
    """The teacher of every class, in a class made here (not one whose code a key configures),
    may give it a new join code."""
    code = session_class()
    return teaches_every_class() and code is not None and is_made(code) and not _has_own_key(code)


def teaches_every_class() -> bool:
    """Signed in with the key of every class: the one who may move between classes."""
    return st.session_state.get("_teacher") == EVERY


def check_key(keys: list[tuple[str, str]]) -> None:
    """The sign-in form's callback: check what was typed against each key, then empty the field at
    once, so the key is gone before the page runs. What happened is left for the page to say."""
    entered = st.session_state.get(FIELD) or ""
    st.session_state[FIELD] = ""
    who, where, found = session_id(), address(), browser()
    wait = THROTTLE.wait_s(who, where, named=found is not None)
    opened = [scope for key, scope in keys if key_matches(entered, key)]  # every key compared: no early exit
    if wait > 0:
        st.session_state["_signin"] = ("teacher.wait", wait)
    elif opened:
        THROTTLE.succeeded(who)
        scope = st.session_state["_teacher"] = EVERY if EVERY in opened else opened[0]
        st.session_state.pop("_signin", None)
        if found is not None:
            remember_teacher(found, scope, entered)
        code = session_class()
        if EVERY in opened and code is not None and not class_made(code):
            make_class(code)  # the teacher of every class signed in at a new code: they made that class
    else:
        wrong = THROTTLE.failed(who, where)
        log.warning("a wrong teacher key from browser %s at %s (%d in a row)", who[:8], where or "this machine", wrong)
        st.session_state["_signin"] = ("teacher.wrong_key", THROTTLE.wait_s(who, where, named=found is not None))


def sign_out() -> None:
    """The Sign out button's callback: this browser is a student again, here and on reload."""
    found = browser()
    if found is not None:
        forget_teacher(found)
    st.session_state.pop("_teacher", None)


def key_box() -> None:
    """The sidebar's teacher sign-in, when a key is set for this session's class."""
    t = text()
    keys, broken = keys_for(session_class())
    if broken is not None:  # a school's LENET_TEACHER_KEYS that doesn't read: said, never guessed
        st.sidebar.error(t(broken.key, **broken.values))
    if not keys:
        return
    if _signed_in():
        st.sidebar.caption(t("teacher.signed_in"))
        st.sidebar.button(t("teacher.sign_out"), key="teacher.sign_out", on_click=sign_out)
        return
    with st.sidebar.expander(t("teacher.box")), st.form("teacher", border=False):
        st.text_input(t("teacher.key"), type="password", autocomplete="off", key=FIELD)
        st.form_submit_button(t("teacher.sign_in"), on_click=check_key, args=(keys,))
        said = st.session_state.pop("_signin", None)
        if said is not None:
            line, wait = said
            st.error(t(line) + (t("teacher.wait_more", s=wait) if wait > 0 else ""))
