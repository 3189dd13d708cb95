"""Every page through Streamlit's AppTest: what it shows, computed from the models themselves."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lenet import data
from lenet.checkpoints import load_model
from lenet.classroom import collection, serving
from lenet.classroom.jobqueue import JOBS
from lenet.classroom.state import Status
from lenet.files import CHECKPOINT_DIR, ROOT

pytestmark = pytest.mark.app

PAGES = ["pages/train.py", "pages/draw.py", "pages/explain.py"]


def picker(at: AppTest):
    """The sidebar's model picker (AppTest only shows the sidebar on the first page)."""
    return next(s for s in at.sidebar.selectbox if s.label == "Model")


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_renders_without_an_exception(page):
    at = app(page)
    assert at.title[0].value == {None: "LeNet Lab", "pages/train.py": "Train", "pages/draw.py": "Draw",
                                 "pages/explain.py": "Explain"}[page]


def test_model_picker_lists_shipped_checkpoints_with_accuracy():
    options = picker(app()).options
    for name in ("lenet5", "lenet5-classic", "mlp"):
        assert any(o.startswith(f"{name} · 99.") for o in options), options


def test_draw_page_prompts_when_nothing_is_drawn():
    at = app("pages/draw.py")
    assert any("Draw a digit" in c.value for c in at.caption)
    assert [m.value for m in at.metric] == ["–"]  # a placeholder as tall as a prediction: the canvas stays put


def test_explain_table_is_computed_from_the_model():
    at = app("pages/explain.py")
    table = at.table[0].value
    conv1 = table[table["layer"] == "features.conv1"].iloc[0]
    assert conv1["output size: (n + 2p − f)/s + 1"] == "(32 + 2·0 − 5)/1 + 1 = 28"
    assert conv1["output shape"] == "6 × 28 × 28" and conv1["parameters"] == 156
    assert table[table["layer"] == "total"].iloc[0]["parameters"] == 61_706
    assert any("32 → 28 → 14 → 10 → 5" in m.value for m in at.markdown)
    assert [b.proto.label for b in at.get("download_button")] == ["Download as PyTorch"]  # the picked lenet5's zip


def test_explain_calculator_explains_non_integer_sizes():
    at = app("pages/explain.py")
    at.slider[0].set_value(28)  # n
    at.slider[1].set_value(5)  # f
    at.slider[3].set_value(2)  # s
    at.run()
    assert any("12.50" in m.value or "12.5" in m.value for m in at.markdown)
    assert any("not a whole number" in w.value for w in at.warning)


def test_explain_for_the_mlp_says_why_there_are_no_feature_maps():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["model_key"] = str(CHECKPOINT_DIR / "mlp.pt")
    at.run()
    at.switch_page("pages/explain.py").run()
    assert not at.exception
    assert any("no feature maps" in i.value for i in at.info)


@pytest.mark.mnist
@pytest.mark.process
def test_train_page_runs_a_tiny_job_end_to_end_and_says_who_stopped_it_once(tmp_path, monkeypatch):
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    at = app("pages/train.py")
    inputs = {n.label: n for n in at.number_input}
    inputs["Epochs"].set_value(2)
    inputs["Training images"].set_value(2000)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    job = JOBS.current()
    assert job is not None and job.join(timeout=300)
    snap = job.snapshot()
    assert snap.status is Status.FINISHED, snap.message
    assert len(snap.epochs) == 2 and snap.batches and snap.checkpoint.parent == tmp_path
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Final test accuracy"].rstrip("%")) > 80
    assert any("Epoch 2 of 2 · batch 16/16" in str(p.proto.text) for p in at.get("progress"))  # not "of 1–2"
    model, ckpt = load_model(snap.checkpoint)  # the run is a usable checkpoint
    assert len(ckpt["history"]) == 2
    inputs = {n.label: n for n in at.number_input}
    inputs["Epochs"].set_value(50)
    next(b for b in at.button if b.label == "Start training").click().run()
    next(b for b in at.button if b.label == "Stop").click().run()
    assert JOBS.current().join(timeout=300)
    at.run()
    said = " ".join(m.value for m in at.markdown) + " ".join(w.value for w in at.warning)
    assert said.count("stopped by you") == 1 and "(stopped" not in said, said


def test_a_class_page_with_damaged_drawings_says_so_and_shows_the_rest(tmp_path, monkeypatch, digits):
    images, labels = digits
    folder = tmp_path / "class"
    saved = [collection.save(folder, images[i], int(labels[i])) for i in range(6)]
    png = saved[0].path.read_bytes()
    saved[0].path.write_bytes(png[:20])  # truncated
    saved[1].path.write_bytes(b"")  # zero bytes
    (folder / f"{saved[2].id}.json").write_text("{}")  # a record without its fields
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    at = app("pages/class.py")
    assert any("3 damaged drawings skipped" in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.metric[0].value == "3"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """A server with no MNIST on disk and no network: the fetch routes refuse as a dead network
    does, and the server's background fetch (serving._warm) has just failed."""
    def no_network(root):
        raise OSError("[Errno 101] Network is unreachable")
    monkeypatch.setenv("LENET_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(data, "_from_torchvision", no_network)
    monkeypatch.setattr(data, "_from_npm", no_network)
    monkeypatch.setattr(serving, "_fetch_failed", -math.inf)
    monkeypatch.setattr(serving, "_warming", True)
    serving._warm()
    assert serving.offline()


def test_offline_each_page_answers_at_once_and_says_what_needs_mnist(offline):
    # failed at 95003f1: the digit-like check loaded all of MNIST (a DataError), Start failed with the folder's path
    at = app("pages/explain.py")
    at.radio(key="explain_view").set_value("doubt").run()  # the digit-like lesson: the checkpoint's calibration
    assert not at.exception and any("passes" in m.value or "caught" in m.value for m in at.markdown)
    at.radio(key="explain_view").set_value("map").run()
    assert [i.value for i in at.info if i.value.startswith("This part needs MNIST")]  # one line, no path
    at.switch_page("pages/train.py").run()
    assert any("MNIST is not on this server" in w.value for w in at.warning)
    before = JOBS.current()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception and JOBS.current() is before  # no run that could only fail
    shown = " ".join(str(e.value) for e in [*at.warning, *at.error, *at.info])
    assert str(ROOT) not in shown and "Traceback" not in shown


def test_offline_lenet_predict_flags_noise_from_the_checkpoint_s_own_calibration(tmp_path):
    # failed at 95003f1: `lenet predict` loaded all of MNIST for the calibration, and exited 1 offline
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray((rng.random((280, 280)) * 255).astype(np.uint8)).save(tmp_path / f"noise{i}.png")
    done = subprocess.run([sys.executable, "-m", "lenet", "predict", "--json", *map(str, tmp_path.glob("*.png"))],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=os.environ | {"LENET_DATA": str(tmp_path / "none"), "HTTPS_PROXY": "http://127.0.0.1:9"})
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and len(answers) == 2 and not [a for a in answers if a["digit_like"]]
    assert "MNIST" not in done.stderr  # nothing fetched, nothing loaded
