"""A class on one server: teacher control, live probes, continuing and deleting runs, the Draw
page's sources, and many sessions at once (real Streamlit sessions over its websocket)."""
import asyncio
import itertools
import math
import os
import threading
import time

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import lenet.jobs as jobs
from lenet.checkpoints import CHECKPOINT_DIR, load_checkpoint, load_model, save_epoch
from lenet.data import Mnist
from lenet.introspect import describe, layer_table, size_formula
from lenet.runs import continue_config, delete_run, prune_runs, saved_runs
from lenet.train import Frame, TrainConfig, train
from tests.conftest import ROOT
from ui import charts
from ui.drawing import Sources, tile
from ui.i18n import Text
from ui.teacher import ENV, control_for, key_matches

# ---- who controls training ------------------------------------------------------------------


def test_the_rule_says_who_is_in_control():
    say = Text("en")
    open_mode = control_for(key_set=False, is_teacher=False)
    assert open_mode.allowed and ENV in say(open_mode.line, env=open_mode.env)
    student = control_for(key_set=True, is_teacher=False)
    line = say(student.line, env=student.env)
    assert not student.allowed and "teacher key" in line and "watch" in line
    assert control_for(key_set=True, is_teacher=True).allowed


def test_the_key_is_compared_whole():
    assert key_matches("correct horse", "correct horse")
    assert not key_matches("correct hors", "correct horse") and not key_matches("", "correct horse")


def train_page(monkeypatch, key: str | None) -> AppTest:
    if key is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, key)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sign_in(at: AppTest, key: str) -> None:
    """Type into the sidebar's form and submit it: a form sends its values only on submit."""
    next(t for t in at.text_input if t.label == "Teacher key").input(key)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_with_a_key_a_student_sees_no_controls_and_is_told_why(monkeypatch):
    at = train_page(monkeypatch, "s3cret-key")
    assert not [b for b in at.button if b.label == "Start training"]
    assert any("teacher controls training" in i.value for i in at.info)
    assert "s3cret-key" not in str([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_the_teacher_signs_in_with_the_key_and_gets_the_controls(monkeypatch):
    at = train_page(monkeypatch, "s3cret-key")
    sign_in(at, "wrong")
    assert any("not the teacher key" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Start training"]
    sign_in(at, "s3cret-key")
    assert [b for b in at.button if b.label == "Start training"]
    assert any("You are the teacher" in c.value for c in at.caption)
    assert "s3cret-key" not in repr(at.session_state)  # the key itself is never kept


def test_without_a_key_the_app_is_open(monkeypatch):
    at = train_page(monkeypatch, None)
    assert [b for b in at.button if b.label == "Start training"]
    assert any("Open mode" in c.value for c in at.caption)


# ---- live metrics, continuing, deleting -----------------------------------------------------


@pytest.mark.mnist
def test_probes_come_at_least_once_a_second_and_accuracy_climbs(mnist):
    probes = []
    data = Mnist(train=mnist.train.head(20000), test=mnist.test)
    train(TrainConfig(epochs=1, limit=20000, seed=0), data, on_probe=probes.append, probe_every_s=0.2)
    assert len(probes) >= 3
    assert probes[0].train_accuracy is None and probes[0].progress == 0
    assert probes[-1].eval_accuracy > probes[0].eval_accuracy + 0.5  # from chance to most digits right
    assert all(int(p.evaluation.confusion.sum()) == 1000 for p in probes)  # the same fixed slice each time
    assert all(b.progress > a.progress for a, b in zip(probes, probes[1:], strict=False))


@pytest.mark.mnist
def test_a_saved_run_continues_with_its_weights_and_optimizer_state(mnist, tmp_path):
    data = Mnist(train=mnist.train.head(3000), test=mnist.test.head(1000))
    cfg = TrainConfig(epochs=1, limit=3000, seed=3)
    saved = {}
    train(cfg, data, on_epoch=lambda r, m: saved.update(path=save_epoch(tmp_path / "run.pt", cfg, m, [r.to_dict()],
                                                                        r.optimizer)))
    more, ckpt = continue_config(saved["path"], epochs=2)
    assert more.epochs == 2 and more.seed == 3 and ckpt["optimizer"]["state"]  # Adam's moments were saved
    steps = [float(s["step"]) for s in ckpt["optimizer"]["state"].values()]
    result = train(more, data, resume=ckpt)
    assert [h["epoch"] for h in result.history] == [2, 3]  # numbered on from the saved epoch
    first_layer = next(iter(ckpt["state_dict"]))
    assert not torch.equal(result.model.state_dict()[first_layer], ckpt["state_dict"][first_layer])
    assert result.history[-1]["eval_accuracy"] >= 0.9
    assert set(steps) == {math.ceil(3000 / cfg.batch_size)}  # one Adam step per batch of the saved epoch


def test_delete_refuses_files_that_are_not_runs_and_the_run_training_now(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    one, two = runs / "a.pt", runs / "b.pt"
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


@pytest.mark.mnist
def test_a_job_continues_into_the_same_file_and_the_live_model_follows(tmp_path):
    job = jobs.start_job(TrainConfig(epochs=1, limit=2000), runs_dir=tmp_path)
    job.join(timeout=120)
    first = job.snapshot()
    assert first.status == "finished", first.message
    config, ckpt = continue_config(first.checkpoint, epochs=1)
    job = jobs.start_job(config, resume=first.checkpoint, resume_ckpt=ckpt)
    job.join(timeout=120)
    snap = job.snapshot()
    assert snap.status == "finished" and snap.checkpoint == first.checkpoint and snap.first_epoch == 2
    assert [e["epoch"] for e in load_checkpoint(snap.checkpoint)["history"]] == [1, 2]
    assert snap.probes and snap.live is not None  # live points reached the server from the training process
    assert snap.frames[0].progress == 1.0 and snap.frames[-1].samples == 2000  # the film of the continued epoch
    live = job.live_model()
    saved, _ = load_model(snap.checkpoint)
    assert all(torch.equal(a, b) for a, b in zip(live.state_dict().values(), saved.state_dict().values(),
                                                 strict=True))


def test_a_long_run_keeps_an_evenly_spaced_film_and_the_newest_frame(tmp_path):
    job = jobs.TrainingJob(TrainConfig(), "film", tmp_path)
    sent = [Frame(500 * i, i / 120, torch.zeros(6, 1, 5, 5), {}) for i in range(1000)]
    for frame in sent:
        job._apply("frame", [frame])
    film = job.snapshot().frames
    assert len(film) <= jobs.MAX_FRAMES + 1 and film[0] is sent[0] and film[-1] is sent[-1]
    gaps = {b.samples - a.samples for a, b in itertools.pairwise(film[:-1])}
    assert len(gaps) == 1  # evenly spaced, whatever thinning happened


# ---- pages' plain logic ---------------------------------------------------------------------


def test_whichever_came_last_is_read():
    s = Sources()
    assert s.update(strokes=0, upload=None) is None
    assert s.update(strokes=2, upload=None) == "drawing"
    assert s.update(strokes=2, upload="file-1") == "upload"  # a new upload wins…
    assert s.update(strokes=3, upload="file-1") == "drawing"  # …until the next stroke
    assert s.update(strokes=3, upload="file-2") == "upload"
    assert s.update(strokes=3, upload=None) == "drawing"  # upload removed: back to the drawing
    assert s.update(strokes=0, upload=None) is None  # canvas cleared


def test_tiles_keep_the_aspect_ratio_in_a_fixed_size():
    thin = np.zeros((500, 12), np.uint8)
    thin[:, 4:8] = 255
    out = tile(thin, size=160)
    assert out.shape[:2] == (160, 160)
    ink_cols = np.nonzero(out.reshape(160, 160, -1).max(axis=(0, 2)) > 128)[0]
    assert len(ink_cols) <= 4  # a thin tall stroke stays thin: not stretched to a square


def test_digit_axes_label_all_ten_and_loss_never_goes_below_zero():
    t = Text("en")
    fig = charts.per_class(t, [0.99] * 10)
    assert list(fig.layout.xaxis.tickvals) == list(range(10))
    fig = charts.confusion(t, np.eye(10, dtype=int) * 5)
    assert list(fig.layout.xaxis.tickvals) == list(range(10)) == list(fig.layout.yaxis.tickvals)
    fig = charts.loss_curve(t, [], [], [{"epoch": 1, "eval_loss": 0.1, "eval_accuracy": 0.9}], (1, 3))
    assert fig.layout.yaxis.rangemode == "tozero" and fig.layout.xaxis.dtick == 1
    assert [charts.epoch_step(n) for n in (1, 10, 11, 30, 100)] == [1, 1, 2, 5, 10]  # whole epochs, at most 10 labels
    assert charts.metrics_in({"a": [{"epoch": 1, "eval_accuracy": 0.9}]}) == ["eval_accuracy"]


def test_explain_text_follows_the_model():
    lenet5, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    classic, _ = load_model(CHECKPOINT_DIR / "lenet5-classic.pt")
    assert describe(layer_table(lenet5)) == {"activation": "ReLU", "pool": "max", "c5": "linear"}
    assert describe(layer_table(classic)) == {"activation": "tanh", "pool": "average", "c5": "conv"}
    assert "no output" in size_formula(3, 5) and "-" not in size_formula(3, 5).split("=")[1]


# ---- many sessions at once ------------------------------------------------------------------


def test_shared_models_answer_the_same_from_many_threads():
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)
    wrong, tables = [], []

    def worker():
        for _ in range(20):
            with torch.no_grad():
                wrong.append(not torch.allclose(model(x), expected, atol=1e-5))
            tables.append(len(layer_table(model)))
    threads = [threading.Thread(target=worker) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not any(wrong) and len(set(tables)) == 1 and not model.training


@pytest.mark.mnist
def test_twelve_sessions_at_once_get_right_answers_and_tables():
    """Real sessions over Streamlit's websocket, all at once, on a server started as `make run`
    starts it: every prediction is lenet5's own answer, every Explain table is lenet5's."""
    from bench.classroom import drawings, expected_table, server, table_rows
    from bench.session import Session

    pictures, expected = drawings(12), expected_table()

    async def one(url: str, i: int) -> list[str]:
        problems = []
        async with Session(url) as s:
            for page in ("draw", "explain", "draw"):
                run = await s.open(page)
                problems += run.exceptions()
                if page == "explain" and table_rows(run) != expected:
                    problems.append(f"session {i}: wrong table {table_rows(run)}")
            for picture, answer in pictures[i:] + pictures[:i]:
                run = await s.draw(picture)
                problems += run.exceptions()
                if run.metric("Prediction") != answer:
                    problems.append(f"session {i}: {run.metric('Prediction')} for {answer}")
        return problems

    async def class_of(url: str, n: int) -> list[str]:
        return [p for ps in await asyncio.gather(*(one(url, i) for i in range(n))) for p in ps]

    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as (url, _):
        started = time.perf_counter()
        problems = asyncio.run(class_of(url, 12))
    assert problems == [], problems[:5]
    assert time.perf_counter() - started < 120
