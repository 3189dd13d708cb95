"""Several classes on one server: each class code has its own folders, runs and teacher key, the
pages follow the session's class, and nothing a student can touch moves them to another."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import sign_in, sign_in_page
from ui.common import teacher
from ui.common.teacher import ENV_CLASSES, EVERY, Throttle


def class_page(monkeypatch, runs, code: str | None, *, every: str | None = None,
               keys: dict | str | None = None) -> AppTest:
    """The Train page of class `code`'s link, with the key of every class `every` and the class keys `keys`."""
    monkeypatch.setattr(teacher, "THROTTLE", Throttle())
    if keys is None:
        monkeypatch.delenv(ENV_CLASSES, raising=False)
    else:
        monkeypatch.setenv(ENV_CLASSES, keys if isinstance(keys, str) else json.dumps(keys))
    return sign_in_page(monkeypatch, every, {"class": code} if code is not None else None)


def starts(at: AppTest) -> bool:
    return any(b.label == "Start training" for b in at.button)


@pytest.mark.app
def test_a_class_key_opens_its_own_class_only(monkeypatch, runs):
    keys = {"7a": "key-of-7a", "7b": "key-of-7b"}
    at = class_page(monkeypatch, runs, "7a", keys=keys)
    assert any("Class **7a**" in c.value for c in at.sidebar.caption) and not starts(at)
    sign_in(at, "key-of-7b")  # another class's key opens nothing here
    assert not starts(at) and any("not the teacher key" in e.value for e in at.error)
    sign_in(at, "key-of-7a")
    assert starts(at) and at.session_state["_teacher"] == "7a"
    assert not [e for e in at.sidebar.expander if e.label == "Teacher: go to another class"]  # 7a's teacher stays
    other = class_page(monkeypatch, runs, "7c", keys=keys)  # a class with no key of its own, and no key for all
    assert starts(other)


@pytest.mark.app
def test_the_teacher_of_every_class_moves_their_session_and_a_student_cannot(monkeypatch, runs):
    (runs / "classes" / "7b").mkdir(parents=True)
    at = class_page(monkeypatch, runs, "7a", every="school-key", keys={"7a": "key-of-7a"})
    assert not [e for e in at.sidebar.expander if e.label == "Teacher: go to another class"]  # a student
    sign_in(at, "school-key")
    assert at.session_state["_teacher"] == EVERY and starts(at)
    at.sidebar.selectbox(key="class_known").set_value("7b")
    next(b for b in at.sidebar.button if b.label == "Go to this class").click()
    at.run()
    assert at.session_state["_class"] == "7b" and any("Class **7b**" in c.value for c in at.sidebar.caption)
    assert at.query_params["class"] == "7b" and starts(at)
    at.sidebar.text_input(key="class_typed").input("Bad Code")
    next(b for b in at.sidebar.button if b.label == "Go to this class").click()
    at.run()
    assert at.session_state["_class"] == "7b" and any("is not a class code" in e.value for e in at.sidebar.error)


@pytest.mark.app
def test_a_link_with_a_bad_class_code_opens_nothing(monkeypatch, runs):
    at = class_page(monkeypatch, runs, "7b; drop")
    assert any("opens no class" in e.value for e in at.error)
    assert not starts(at) and not list(runs.iterdir())


@pytest.mark.app
def test_broken_class_keys_are_said_and_never_open_the_app(monkeypatch, runs):
    at = class_page(monkeypatch, runs, "7a", keys="7a=key")
    assert any("LENET_TEACHER_KEYS must be a JSON object" in e.value for e in at.sidebar.error)
    assert not starts(at)
