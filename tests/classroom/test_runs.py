"""Saved runs on disk: one naming rule, one order, deleting one, and the cap."""
import os
import time

import pytest

from lenet.classroom.runs import STAMP, delete_run, max_runs, prune_runs, run_name, saved_runs
from lenet.config import TrainConfig


def test_a_run_is_named_by_when_it_started_and_what_it_is():
    when = time.mktime((2026, 12, 1, 9, 30, 0, 0, 0, -1))
    assert run_name(TrainConfig(), when=when) == "20261201-093000-lenet5-default"
    assert run_name(TrainConfig(model="mlp", activation="tanh"), when=when) == "20261201-093000-mlp-tanh"
    assert run_name(TrainConfig(), tunes="lenet5", when=when) == "20261201-093000-lenet5-class"
    assert run_name(TrainConfig(design=" C6K5 - m2 -F32"), when=when) == "20261201-093000-design-c6k5-m2-f32-default"
    assert STAMP.match(run_name(TrainConfig()))  # now, in the same form


def test_runs_are_listed_newest_first_by_the_time_in_their_name(tmp_path):
    names = ["20261201-093000-lenet5-relu", "20261130-120000-mlp-default", "20261201-100000-lenet5-class"]
    for name in names:
        (tmp_path / f"{name}.pt").write_bytes(b"x")
    os.utime(tmp_path / f"{names[1]}.pt", (2e9, 2e9))  # saved again later (a continued run): it stays in its place
    handmade = tmp_path / "my-model.pt"
    handmade.write_bytes(b"x")
    os.utime(handmade, (time.mktime((2026, 12, 1, 9, 0, 0, 0, 0, -1)),) * 2)  # named otherwise: its mtime counts
    assert [p.stem for p in saved_runs(tmp_path)] == [names[2], names[0], "my-model", names[1]]
    assert saved_runs(tmp_path / "missing") == []


def test_the_runs_folder_and_the_cap_are_read_when_used(tmp_path, monkeypatch):
    (tmp_path / "20261201-093000-lenet5-relu.pt").write_bytes(b"x")
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    assert [p.name for p in saved_runs()] == ["20261201-093000-lenet5-relu.pt"]
    monkeypatch.setenv("LENET_MAX_RUNS", "7")
    assert max_runs() == 7


def test_delete_refuses_files_that_are_not_runs_and_the_run_training_now(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    one, two = runs / "20261201-000001-a.pt", runs / "20261201-000002-b.pt"
    one.write_bytes(b"x")
    two.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a saved run"):
        delete_run(tmp_path / "elsewhere.pt", runs)
    with pytest.raises(ValueError, match="training right now"):
        delete_run(two, runs, keep=two)
    delete_run(one, runs)
    assert saved_runs(runs) == [two]


def test_runs_are_capped_oldest_first_never_the_one_training(tmp_path):
    for i in range(6):
        path = tmp_path / f"run{i}.pt"
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
    doomed = prune_runs(tmp_path, cap=3, keep=tmp_path / "run0.pt")  # run0 is the oldest, and training
    assert sorted(p.name for p in doomed) == ["run1.pt", "run2.pt", "run3.pt"]
    assert sorted(p.name for p in saved_runs(tmp_path)) == ["run0.pt", "run4.pt", "run5.pt"]
