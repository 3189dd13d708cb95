"""Who is in a class now, and who follows the projector (lenet/classroom/presence.py): a tab counted
while it is open and not after, one browser counted once however many tabs, following if any tab
follows, the teacher left out, classes kept apart, each coming and going told as news of its class,
from many threads at once; and behind replicas, the other replicas' tabs read from a real
redis-server (a stale replica, or a garbled field, left out) and a store that is down costing
only the other replicas' tabs, never this one's."""
from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest

from deploy.replicas import free_ports
from lenet.classroom.news import NEWS, ORIGIN
from lenet.classroom.presence import STALE_S, Presence
from lenet.classroom.store import key
from tests.conftest import HANG_S


@pytest.fixture
def lone(runs: Path, monkeypatch: pytest.MonkeyPatch) -> Presence:
    """A server's tabs, on a lone server (no store to share them through)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    return Presence()


def _here(code: str | None) -> int:
    return NEWS.versions(code, ["here"])["here"]


def test_a_tab_is_counted_while_it_is_open_and_not_after(lone):
    assert lone.students("7b", None) == (0, 0)
    with lone.here("7b", "ann", following=True):
        assert lone.students("7b", None) == (1, 1)
        assert lone.local("7b") == {"ann": True}
        with lone.here("7b", "bob", following=False):
            assert lone.students("7b", None) == (1, 2)
        assert lone.students("7b", None) == (1, 1)
    assert lone.students("7b", None) == (0, 0) and lone.local("7b") == {}


def test_a_tab_that_raises_is_not_counted_after(lone):
    with pytest.raises(RuntimeError), lone.here("7b", "ann", following=True):
        raise RuntimeError("the stream broke")
    assert lone.students("7b", None) == (0, 0)


def test_one_browser_with_two_tabs_is_one_student_following_if_either_tab_follows(lone):
    with lone.here("7b", "ann", following=False):
        assert lone.students("7b", None) == (0, 1)
        with lone.here("7b", "ann", following=True):
            assert lone.students("7b", None) == (1, 1)
        assert lone.students("7b", None) == (0, 1)  # the following tab closed: she explores
        with lone.here("7b", "ann", following=False):
            assert lone.students("7b", None) == (0, 1)
    assert lone.students("7b", None) == (0, 0)


def test_the_teacher_is_not_a_student(lone):
    with lone.here("7b", "teacher", following=True), lone.here("7b", "teacher", following=False), \
            lone.here("7b", "ann", following=False):
        assert lone.students("7b", "teacher") == (0, 1)
        assert lone.students("7b", None) == (1, 2)
        assert lone.students("7b", "someone-else") == (1, 2)
        assert lone.local("7b") == {"teacher": True, "ann": False}  # only students() leaves the teacher out


def test_classes_are_kept_apart(lone):
    with lone.here("7a", "ann", following=True), lone.here("7b", "bob", following=False), \
            lone.here(None, "cat", following=True):
        assert lone.students("7a", None) == (1, 1)
        assert lone.students("7b", None) == (0, 1)
        assert lone.students(None, None) == (1, 1)  # a server without classes
        assert lone.students("7c", None) == (0, 0)
        assert lone.local("7a") == {"ann": True} and lone.local("7b") == {"bob": False}


def test_coming_and_going_is_news_of_the_tab_s_class_only(lone):
    before = {c: _here(c) for c in ("7a", "7b", None)}
    with lone.here("7b", "ann", following=True):
        inside = _here("7b")
        assert inside > before["7b"]
        assert _here("7a") == before["7a"] and _here(None) == before[None]
    assert _here("7b") > inside
    assert _here("7a") == before["7a"]
    with lone.here(None, "ann", following=True):
        assert _here(None) > before[None]


def test_tabs_from_many_threads_are_all_counted_then_all_gone(lone):
    inside, counted = threading.Barrier(9), threading.Barrier(9)
    errors = []

    def tabs(thread: int) -> None:
        try:
            with ExitStack() as stack:
                for tab in range(25):  # 25 browsers a thread, each with two tabs, one following on even threads
                    stack.enter_context(lone.here("7b", f"t{thread}-b{tab}", following=False))
                    stack.enter_context(lone.here("7b", f"t{thread}-b{tab}", following=thread % 2 == 0))
                inside.wait(HANG_S)
                counted.wait(HANG_S)
        except Exception as err:  # noqa: BLE001 (raised below)
            errors.append(err)

    before = _here("7b")
    threads = [threading.Thread(target=tabs, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    inside.wait(HANG_S)
    all_in, one_left_out = lone.students("7b", None), lone.students("7b", "t0-b0")
    counted.wait(HANG_S)  # (asserted after: a failing assert here would leave the threads waiting)
    for t in threads:
        t.join(HANG_S)
    assert errors == []
    assert all_in == (100, 200) and one_left_out == (99, 199)
    assert lone.students("7b", None) == (0, 0) and lone.local("7b") == {}
    assert _here("7b") > before


# ---- across replicas, through a real redis-server ------------------------------------------------

NOW = 1_800_000_000.0  # the wall clock every replica here reads: fixed, so no test depends on how long it takes


def _other(shared, code: str, tabs: dict[str, bool], ago_s: float = 0.0, origin: str = "other-replica") -> None:
    """Another replica's tabs in class `code`, as it writes them, `ago_s` seconds before NOW."""
    shared.hset(key("here", code), origin, json.dumps({"at": NOW - ago_s, "tabs": tabs}))


def test_this_replica_s_tabs_are_shared_and_the_other_replicas_counted(shared):
    here = Presence(clock=lambda: NOW)
    _other(shared, "7b", {"ann": True, "bob": False, "teacher": True})
    assert here.students("7b", "teacher") == (1, 2)  # ann follows on the other replica, bob explores
    with here.here("7b", "bob", following=True), here.here("7b", "cat", following=False):
        mine = json.loads(shared.hget(key("here", "7b"), ORIGIN))
        assert mine == {"at": NOW, "tabs": {"bob": True, "cat": False}}
        assert here.students("7b", "teacher") == (2, 3)  # bob follows here: one student, following
        assert here.students("7b", None) == (3, 4)
        assert here.students("7a", None) == (0, 0)  # another class's hash
        shared.delete(key("here", "7b"))
        here.share_all()  # every tick: written again, so it never looks stale
        assert json.loads(shared.hget(key("here", "7b"), ORIGIN))["tabs"] == {"bob": True, "cat": False}
    assert json.loads(shared.hget(key("here", "7b"), ORIGIN))["tabs"] == {}  # gone from here at once
    assert 0 < shared.ttl(key("here", "7b")) <= STALE_S * 4  # a hash of a class everyone left expires


def test_a_replica_gone_stale_is_left_out(shared):
    here = Presence(clock=lambda: NOW)
    _other(shared, "7b", {"ann": True}, ago_s=STALE_S + 60)
    _other(shared, "7b", {"bob": False}, origin="live-replica")
    assert here.students("7b", None) == (0, 1)
    _other(shared, "7b", {"ann": True})  # the stale replica writes again
    assert here.students("7b", None) == (1, 2)


@pytest.mark.parametrize("garbage", [
    b"not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"{}", b'{"at": "yesterday", "tabs": {"x": true}}',
    b'{"at": null, "tabs": {"x": true}}', b'{"tabs": {"x": true}}', b'{"at": 1e300}',
    b'{"at": 0, "tabs": {"x": true}}', b'{"at": %d, "tabs": ["x"]}', b'{"at": %d, "tabs": 5}',
])
def test_a_garbled_field_is_ignored(shared, garbage):
    here = Presence(clock=lambda: NOW)
    raw = garbage.replace(b"%d", str(int(NOW)).encode())
    shared.hset(key("here", "7b"), "broken-replica", raw)
    _other(shared, "7b", {"bob": True})
    shared.hset(key("here", "7b"), b"\xff\xfe", json.dumps({"at": NOW, "tabs": {"eve": True}}))
    with here.here("7b", "ann", following=False):
        assert here.students("7b", None) == (1, 2)  # ann here, bob on the other replica; the garbage left out


def test_a_store_that_is_down_costs_only_the_other_replicas_tabs(runs, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_ports(0)}/0")  # nothing listens there
    here = Presence(clock=lambda: NOW)
    before = _here("7b")
    with here.here("7b", "ann", following=True), here.here("7b", "bob", following=False):
        assert here.students("7b", None) == (1, 2)
        assert here.students("7b", "bob") == (1, 1)
        here.share_all()
    assert here.students("7b", None) == (0, 0)
    assert _here("7b") > before  # still news on this replica
