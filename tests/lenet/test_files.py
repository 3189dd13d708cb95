"""The folders (lenet/files.py): the data and runs folders from the environment, and each class's own."""

from __future__ import annotations

import threading
import time

import pytest

from lenet import files
from lenet.files import (
    collection_dir,
    current_class,
    ending_in,
    in_class,
    is_class_code,
    runs_dir,
    runs_root,
    write_atomic,
)
from tests.conftest import at_once


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


def test_threads_of_different_classes_each_see_their_own_folder(runs):
    codes = iter(["a1", "b2", "c3", None] * 2)
    lock = threading.Lock()

    def work() -> bool:
        with lock:
            code = next(codes)
        with in_class(code):
            want = runs / "classes" / code if code else runs
            seen = set()
            for _ in range(500):  # each sleep(0) lets another thread in: thousands of interleavings
                seen.add(runs_dir())
                time.sleep(0)
            return seen == {want}

    assert all(at_once(work, threads=8))


def test_a_new_join_code_is_forty_random_bits_easy_to_read():
    codes = {files.new_class_code() for _ in range(2000)}
    assert len(codes) == 2000  # 40 bits: two thousand never meet
    assert all(files.is_class_code(c) and len(c) == 9 and c[4] == "-" for c in codes)
    assert set("".join(codes).replace("-", "")) == set(files.JOIN_LETTERS) and not set("lo01") & set(files.JOIN_LETTERS)
    assert len(files.JOIN_LETTERS) ** 8 == 2 ** 40


def test_a_folder_lists_its_files_of_one_kind_by_name_and_no_half_written_one(tmp_path):
    for name in ("b.pt", "a.pt", "notes.json", ".hidden.pt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "c.pt").mkdir()  # a folder named like a checkpoint is not one
    write_atomic(tmp_path / "d.pt", b"x")
    assert ending_in(tmp_path, ".pt") == [tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "d.pt"]
    assert ending_in(tmp_path / "missing", ".pt") == [] and ending_in(tmp_path / "a.pt", ".pt") == []
