"""Every page through Streamlit's AppTest, and the plain functions behind the Draw page."""
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

import lenet.jobs as jobs
from lenet.checkpoints import CHECKPOINT_DIR, load_model
from lenet.predict import classify
from lenet.train import TrainConfig
from tests.conftest import ROOT
from ui import charts
from ui.drawing import ImageError, NoDigitError, read_canvas, read_upload
from ui.i18n import Text

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
def test_train_page_runs_a_tiny_job_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "RUNS_DIR", tmp_path)
    at = app("pages/train.py")
    inputs = {n.label: n for n in at.number_input}
    inputs["Epochs"].set_value(2)
    inputs["Training images"].set_value(2000)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    job = jobs.current_job()
    assert job is not None
    job.join(timeout=120)
    snap = job.snapshot()
    assert snap.status == "finished", snap.message
    assert len(snap.epochs) == 2 and snap.batches and snap.checkpoint.parent == tmp_path
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Final test accuracy"].rstrip("%")) > 80
    model, ckpt = load_model(snap.checkpoint)  # the run is a usable checkpoint
    assert len(ckpt["history"]) == 2


@pytest.mark.mnist
def test_a_second_job_is_refused_while_one_runs(tmp_path):
    job = jobs.start_job(TrainConfig(epochs=3, limit=20000), runs_dir=tmp_path)
    try:
        with pytest.raises(jobs.JobBusy, match="already going"):
            jobs.start_job(TrainConfig(), runs_dir=tmp_path)
    finally:
        job.stop()
        job.join(timeout=30)
    assert job.snapshot().status == "stopped"


@pytest.mark.mnist
def test_stop_keeps_the_last_completed_epoch(tmp_path):
    job = jobs.start_job(TrainConfig(epochs=5, limit=3000, log_every=1), runs_dir=tmp_path)
    deadline = time.time() + 60
    while not job.snapshot().epochs and time.time() < deadline:
        time.sleep(0.05)
    assert job.live_model() is not None
    job.stop()
    job.join(timeout=30)
    assert job._ended.is_set()  # it stops between batches; bench/ times how soon
    job._thread.join(timeout=30)
    assert not job._process.is_alive()  # and the training process is gone
    snap = job.snapshot()
    assert snap.status == "stopped" and "is saved" in snap.message
    model, ckpt = load_model(snap.checkpoint)
    assert len(ckpt["history"]) == len(snap.epochs) >= 1


def canvas_digit(draw) -> np.ndarray:
    image = Image.new("L", (280, 280), 0)
    draw(ImageDraw.Draw(image))
    v = np.asarray(image)
    return np.dstack([v, v, v, np.full_like(v, 255)])


def test_draw_logic_reads_a_canvas_and_an_upload():
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    one = canvas_digit(lambda d: d.line([(140, 40), (140, 240)], fill=255, width=18))
    reading = classify(model, read_canvas(one))
    assert reading.digit == 1 and reading.confidence > 0.5 and abs(sum(reading.probs) - 1) < 1e-5
    assert read_canvas(None) is None
    assert read_canvas(np.zeros((280, 280, 4), np.uint8)) is None  # empty canvas: a prompt, not a guess
    seven = canvas_digit(lambda d: d.line([(60, 50), (220, 50), (110, 240)], fill=255, width=20))
    import io
    buf = io.BytesIO()
    Image.fromarray(255 - seven[:, :, 0]).save(buf, "PNG")  # dark ink on white paper
    assert classify(model, read_upload(buf.getvalue())).digit == 7
    with pytest.raises(ImageError):
        read_upload(b"this is not a picture")
    with pytest.raises(NoDigitError):
        blank = io.BytesIO()
        Image.new("L", (50, 50), 255).save(blank, "PNG")
        read_upload(blank.getvalue())


def test_charts_build_from_real_results(tmp_path):
    assert charts.smooth([1.0, 1.0, 1.0]) == pytest.approx([1.0, 1.0, 1.0])
    fig = charts.probabilities(Text("en"), [0.05] * 9 + [0.55])
    assert list(fig.data[0].y)[-1] == pytest.approx(55)
    grid = charts.mosaic(np.arange(6 * 28 * 28, dtype=np.float32).reshape(6, 28, 28), columns=3, cell=56, gap=4)
    assert grid.shape == (2 * 56 + 4, 3 * 56 + 2 * 4)
    assert grid[:56, :56].min() == 0 and grid[:56, :56].max() == 255  # each map uses the full grey range
