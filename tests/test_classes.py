"""Several classes on one server: each class code has its own folders, runs and teacher key, the
pages follow the session's class, and nothing a student can touch moves them to another."""
from __future__ import annotations

import json
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from lenet.classroom import collection, moderation
from lenet.classroom.jobqueue import JobQueue
from lenet.classroom.jobs import Job, JobBusy
from lenet.classroom.state import RunState, Status
from lenet.config import TrainConfig
from lenet.files import class_codes, collection_dir, current_class, in_class, is_class_code, runs_dir, runs_root
from tests.conftest import at_once
from tests.test_teacher import sign_in, sign_in_page
from ui.common import teacher
from ui.common.links import Lesson, Problem, query_of, read, refused
from ui.common.teacher import ENV_CLASSES, EVERY, Throttle, class_keys


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    return tmp_path


def test_each_class_has_its_own_folders_and_no_class_keeps_the_old_ones(runs):
    assert runs_dir() == runs and collection_dir() == runs / "class" and current_class() is None
    with in_class("7b"):
        assert runs_dir() == runs / "classes" / "7b" and collection_dir() == runs / "classes" / "7b" / "class"
        with in_class(None):  # the teacher's own folder, inside a class's work
            assert runs_dir() == runs
        assert current_class() == "7b"
    assert runs_root() == runs == runs_dir()
    for code in ("7b", "year9-maths", "a", "0" * 24):
        assert is_class_code(code)
    for code in ("", "7B", "-7b", "7 b", "../7b", "7b/", "é", "0" * 25):
        assert not is_class_code(code)
        with pytest.raises(ValueError, match="not a class code"):
            with in_class(code):
                pass


def test_drawings_saved_in_one_class_are_not_in_another(runs, digits):
    images, labels = digits
    with in_class("7a"):
        for i in range(3):
            collection.save(collection_dir(), images[i], int(labels[i]))
    with in_class("7b"):
        collection.save(collection_dir(), images[5], int(labels[5]))
        assert [i.label for i in collection.items(collection_dir())] == [int(labels[5])]
    assert collection.items(collection_dir()) == []  # the server's own collection: untouched
    assert class_codes() == ["7a", "7b"]
    with in_class("7a"):
        assert len(collection.items(collection_dir())) == 3


def test_clearing_a_collection_clears_its_corrections_too(runs, digits):
    images, labels = digits
    folder = collection_dir()
    item = collection.save(folder, images[0], int(labels[0]))
    moderation.delete(folder, item.id)
    assert collection.clear(folder) == 1
    assert moderation.edits(folder) == [] and not (folder / moderation.LOG).exists()


def test_threads_of_different_classes_each_see_their_own_folder(runs):
    codes = iter(["a1", "b2", "c3", None] * 2)
    lock = threading.Lock()

    def work() -> bool:
        with lock:
            code = next(codes)
        with in_class(code):
            want = runs / "classes" / code if code else runs
            seen = set()
            for _ in range(2000):
                seen.add(runs_dir())
                time.sleep(0)
            return seen == {want}

    assert all(at_once(work, threads=8))


class Idle(Job):
    """A Job that starts no process: it just says it runs, until ended by hand."""

    def start(self, on_end=lambda job: None) -> Job:
        self.state.status = Status.RUNNING
        self.on_end = on_end
        return self

    def end(self) -> None:
        self.state.status = Status.FINISHED
        self.on_end(self)


def idle(name: str) -> Idle:
    return Idle(RunState(config=TrainConfig(epochs=1), name=name, folder=runs_dir()))


def test_a_class_sees_its_own_run_and_is_told_when_another_class_trains(runs):
    queue = JobQueue()
    with in_class("7a"):
        first = queue.start(idle("a"))
        assert queue.current() is first and first.state.class_code == "7a"
    with in_class("7b"):
        assert queue.current() is None  # 7a's run is not 7b's to see
        with pytest.raises(JobBusy) as busy:
            queue.start_first(idle("b"))
        assert busy.value.args[0].key == "job.busy_class" and busy.value.args[0].values["code"] == "7a"
    with in_class("7a"), pytest.raises(JobBusy) as busy:
        queue.start(idle("a2"))
    assert busy.value.args[0].key == "job.busy"
    first.end()
    with in_class("7b"):
        second = queue.start(idle("b"))
    with in_class("7a"):
        assert queue.current() is first  # its last run stays on its page while 7b trains
    with in_class("7b"):
        assert queue.current() is second
    assert queue.current() is None  # no class: it never ran anything

    def looks() -> bool:  # many sessions of both classes asking at once
        for code in ("7a", "7b") * 200:
            with in_class(code):
                if queue.current() is not (first if code == "7a" else second):
                    return False
        return True

    assert all(at_once(looks, threads=4))


def test_a_link_carries_the_class_and_a_bad_code_refuses_the_link():
    lesson = read({"class": " 7B ", "lang": "zh"})
    assert lesson.class_code == "7b" and not lesson.problems and refused(lesson) is None
    assert query_of(lesson) == {"lang": "zh", "class": "7b"}
    assert read(query_of(lesson)) == lesson
    bad = read({"class": "7b/../7a"})
    assert bad.class_code is None and refused(bad) == Problem(key="class", values={"value": "7b/../7a"})
    assert query_of(Lesson()) == {}


def test_class_keys_are_a_json_object_of_class_codes_and_nothing_else():
    assert class_keys(None) == {} and class_keys("") == {}
    assert class_keys('{"7a": "k-a", "7b": "k-b"}') == {"7a": "k-a", "7b": "k-b"}
    for raw in ("7a=k", "[1]", '{"7a": 3}', '{"7a": ""}', '{"7 A": "k"}', "{"):
        with pytest.raises(ValueError, match="LENET_TEACHER_KEYS"):
            class_keys(raw)


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
