"""Several classes on one server: each class code has its own folders, runs and teacher key, the
pages follow the session's class, and nothing a student can touch moves them to another."""
from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from lenet.classroom.throttle import Throttle
from lenet.files import JOIN_LETTERS, is_made
from tests.ui.conftest import sign_in, sign_in_page
from ui.common import teacher
from ui.common.teacher import ENV_CLASSES, EVERY


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

VISITOR = "This address opens no class on this server"


def visits_every_page_read_only(at: AppTest) -> None:
    """Every page of a visitor's: the one line that says why, and nothing that trains or saves."""
    for page in ("pages/train.py", "pages/draw.py", "pages/explain.py", "pages/build.py", "pages/class.py",
                 "pages/home.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert [i.value for i in at.info].count(next(i.value for i in at.info if i.value.startswith(VISITOR))) == 1
        assert not starts(at) and not [b for b in at.button if b.label.startswith("Fine-tune")]
        assert not [h for h in at.subheader if h.value == "Export"]
    at.switch_page("pages/build.py").run()
    assert next(b for b in at.button if b.label == "Try it").disabled  # never a design on a board
    assert not [e for e in at.expander if e.label.startswith("Teacher:")]  # no budget tools


@pytest.mark.app
@pytest.mark.parametrize("code", ["7c", None])
def test_on_a_server_keyed_per_class_an_unknown_code_or_none_opens_the_app_read_only(monkeypatch, runs, code):
    # failed at 95003f1: "Open mode", an enabled Start, and a run that went live in a second
    at = class_page(monkeypatch, runs, code, keys={"7a": "key-of-7a", "7b": "key-of-7b"})
    visits_every_page_read_only(at)
    assert not (runs / "classes").exists()  # no folder made for an invented code


@pytest.mark.app
def test_a_class_exists_when_the_teacher_of_every_class_made_it(monkeypatch, runs):
    at = class_page(monkeypatch, runs, "k3x9", every="school-key")
    visits_every_page_read_only(at)  # nobody made k3x9 yet
    at.switch_page("pages/train.py").run()
    sign_in(at, "school-key")
    assert starts(at) and (runs / "classes" / "k3x9" / "made").is_file()  # signing in there made it
    student = class_page(monkeypatch, runs, "k3x9", every="school-key")
    assert not starts(student) and not [i for i in student.info if i.value.startswith(VISITOR)]
    assert any("The teacher controls training" in i.value for i in student.info)
    home = class_page(monkeypatch, runs, None, every="school-key")  # no code: that teacher's class, as before
    assert not [i for i in home.info if i.value.startswith(VISITOR)]


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


@pytest.mark.app
def test_the_teacher_makes_a_class_shows_its_code_and_gives_it_a_new_one(monkeypatch, runs):
    # failed at 95003f1: a class's code was whatever the teacher typed, with no way to change it
    at = class_page(monkeypatch, runs, None, every="school-key")
    sign_in(at, "school-key")
    next(b for b in at.sidebar.button if b.label == "Make a new class").click()
    at.run()
    code = at.session_state["_class"]
    assert re.fullmatch(f"[{JOIN_LETTERS}]{{4}}-[{JOIN_LETTERS}]{{4}}", code) and is_made(code)
    assert any(f"class={code}" in c.value for c in at.sidebar.code)  # the link, with its QR code beside it
    (runs / "classes" / code / "class").mkdir()
    next(b for b in at.sidebar.button if b.label == "Give the class a new code").click()
    at.run()
    new = at.session_state["_class"]
    assert new != code and is_made(new) and (runs / "classes" / new / "class").is_dir()  # its things moved with it
    assert not (runs / "classes" / code).exists()
    old = class_page(monkeypatch, runs, code, every="school-key")  # the old link now opens nothing
    assert any(i.value.startswith(VISITOR) for i in old.info)
