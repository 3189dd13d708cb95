"""Who controls training: the rule, the key compared whole, sign-in in the page, wrong keys that
cost time (lenet/classroom/browsers.py's Throttle), and a typed key that is never kept."""
from __future__ import annotations

import logging

import pytest
import streamlit as st
from streamlit import config

from lenet.classroom.browsers import browser_of, new_browser
from lenet.classroom.throttle import Throttle
from tests.conftest import Clock
from tests.ui.conftest import sign_in, sign_in_page
from ui.common import teacher
from ui.common.i18n import Text
from ui.common.teacher import ENV, FIELD, Access, class_keys, control_for, key_matches


def test_the_rule_says_who_is_in_control():
    say = Text("en")
    open_mode = control_for(Access.OPEN)
    assert open_mode.allowed and ENV in say(open_mode.line, env=open_mode.env)
    student = control_for(Access.STUDENT)
    line = say(student.line, env=student.env)
    assert not student.allowed and "teacher key" in line and "watch" in line
    assert control_for(Access.TEACHER).allowed


def test_the_key_is_compared_whole():
    assert key_matches("correct horse", "correct horse")
    assert not key_matches("correct hors", "correct horse") and not key_matches("", "correct horse")


@pytest.mark.app
def test_with_a_key_a_student_sees_no_controls_and_is_told_why(monkeypatch):
    at = sign_in_page(monkeypatch, "s3cret-key")
    assert not [b for b in at.button if b.label == "Start training"]
    assert any("teacher controls training" in i.value for i in at.info)
    assert "s3cret-key" not in str([m.value for m in at.markdown] + [c.value for c in at.caption])


@pytest.mark.app
def test_the_teacher_signs_in_and_the_typed_key_is_gone_at_once(monkeypatch, caplog):
    monkeypatch.setattr(teacher, "THROTTLE", Throttle())
    at = sign_in_page(monkeypatch, "s3cret-key")
    with caplog.at_level(logging.WARNING, logger="lenet.teacher"):
        sign_in(at, "wrong-guess")
    assert any("not the teacher key" in e.value for e in at.error)
    assert at.session_state[FIELD] == ""  # emptied in the submit's own callback, before the page ran
    assert "wrong-guess" not in caplog.text and "wrong teacher key" in caplog.text  # logged, without the key
    assert not [b for b in at.button if b.label == "Start training"]
    sign_in(at, "s3cret-key")
    assert [b for b in at.button if b.label == "Start training"]
    assert any("You are the teacher" in c.value for c in at.caption)
    assert at.session_state[FIELD] == "" and "s3cret-key" not in repr(at.session_state)


@pytest.mark.app
def test_after_five_wrong_keys_the_page_says_to_wait_and_even_the_right_key_waits(monkeypatch):
    monkeypatch.setattr(teacher, "THROTTLE", Throttle(clock=Clock()))
    at = sign_in_page(monkeypatch, "s3cret-key")
    for _ in range(5):
        sign_in(at, "guess")
    assert any("Wait 2 s before the next try" in e.value for e in at.error)
    sign_in(at, "s3cret-key")  # within the wait: not even checked
    assert any("Too many wrong keys" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Start training"]


@pytest.mark.app
def test_without_a_key_the_app_is_open(monkeypatch):
    at = sign_in_page(monkeypatch, None)
    assert [b for b in at.button if b.label == "Start training"]
    assert any("Open mode" in c.value for c in at.caption)


def test_a_key_and_the_class_keys_come_from_a_secrets_file_and_without_one_there_are_none(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv(teacher.ENV_CLASSES, raising=False)
    secrets = tmp_path / "secrets.toml"
    before = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(secrets)])
    try:
        assert teacher.teacher_key() is None and teacher._configured_table() is None  # no file: none, and no error
        secrets.write_text('teacher_key = "from-the-file"\n[teacher_keys]\nab12cd = "its-own"\n')
        st.secrets._reset()
        assert teacher.teacher_key() == "from-the-file"
        assert class_keys(teacher._configured_table()) == {"ab12cd": "its-own"}
    finally:
        config.set_option("secrets.files", before)
        st.secrets._reset()


def test_class_keys_are_a_json_object_of_class_codes_and_nothing_else():
    assert class_keys(None) == {} and class_keys("") == {}
    assert class_keys('{"7a": "k-a", "7b": "k-b"}') == {"7a": "k-a", "7b": "k-b"}
    for raw in ("7a=k", "[1]", '{"7a": 3}', '{"7a": ""}', '{"7 A": "k"}', "{"):
        with pytest.raises(ValueError, match="LENET_TEACHER_KEYS"):
            class_keys(raw)


@pytest.mark.app
def test_a_teacher_on_a_browser_that_has_not_failed_signs_in_while_the_school_s_address_guesses(monkeypatch, runs):
    # failed at 8f961d0: a browser given its id after the address's wrong keys began waited with the guessers
    monkeypatch.setattr(teacher, "THROTTLE", Throttle(clock=Clock()))
    monkeypatch.setattr(teacher, "address", lambda: "10.0.0.7")  # one school, one address
    for _ in range(5):  # five sessions the server could not name (no id), five wrong keys each
        guesser = sign_in_page(monkeypatch, "s3cret-key")
        for _ in range(5):
            sign_in(guesser, "guess")
    late = sign_in_page(monkeypatch, "s3cret-key")
    sign_in(late, "s3cret-key")  # one more session with no id: waits with the address, right key or not
    assert any("Too many wrong keys" in e.value for e in late.error)
    projector = sign_in_page(monkeypatch, "s3cret-key", browser=browser_of(new_browser()))  # a brand-new browser
    sign_in(projector, "s3cret-key")
    assert [b for b in projector.button if b.label == "Start training"] and not projector.error
