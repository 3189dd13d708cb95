"""The CLI end to end, as a user runs it: real processes, real files, real MNIST."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import ROOT

pytestmark = [pytest.mark.mnist, pytest.mark.process]  # real processes, training on the real files


def lenet(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "lenet", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=None if env is None else os.environ | env)
    assert "Traceback" not in done.stderr, done.stderr
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny.pt"
    done = lenet("train", "--model", "lenet5", "--epochs", "2", "--limit", "6000", "--batch-size", "64", "--lr", "1e-2",
                 "--out", str(out), "--json")
    return out, [json.loads(line) for line in done.stdout.splitlines()]


def write_images(folder, digits):
    images, labels = digits
    big = lambda i: np.asarray(Image.fromarray(images[i]).resize((200, 200), Image.Resampling.BILINEAR))  # noqa: E731
    Image.fromarray(big(0)).convert("RGB").save(folder / "canvas.png")  # white on black
    Image.fromarray(255 - big(1)).convert("RGB").save(folder / "paper.jpg", quality=90)  # dark on light
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[..., 3] = big(2)
    Image.fromarray(rgba, "RGBA").save(folder / "transparent.png")
    Image.new("L", (100, 100), 255).save(folder / "blank.png")
    (folder / "notes.png").write_text("not an image")
    return {"canvas.png": labels[0], "paper.jpg": labels[1], "transparent.png": labels[2]}


def test_train_json_reports_every_epoch(trained):
    path, epochs = trained
    assert [e["epoch"] for e in epochs] == [1, 2]
    for e in epochs:
        assert {"epoch", "train_loss", "eval_split", "eval_loss", "eval_accuracy", "elapsed_s",
                "samples_per_s"} <= set(e)
    assert epochs[1]["eval_split"] == "test"
    assert epochs[1]["eval_accuracy"] > 0.9 and epochs[1]["elapsed_s"] > epochs[0]["elapsed_s"] > 0
    assert path.is_file()


def test_evaluate_reports_accuracy_per_class_and_confusion(trained):
    path, epochs = trained
    report = json.loads(lenet("evaluate", "--checkpoint", str(path), "--json").stdout)
    assert report["accuracy"] == pytest.approx(epochs[-1]["eval_accuracy"], abs=1e-6)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10000
    assert len(report["per_class"]) == 10
    text = lenet("evaluate", "--checkpoint", str(path)).stdout
    assert "accuracy" in text and "confusion matrix" in text


def test_predict_answers_every_file_and_fails_only_the_bad_ones(trained, tmp_path, digits):
    path, _ = trained
    truth = write_images(tmp_path, digits)
    names = ("canvas.png", "paper.jpg", "transparent.png", "blank.png", "notes.png", "missing.png")
    files = [tmp_path / n for n in names]
    done = lenet("predict", "--checkpoint", str(path), "--json", *map(str, files), check=False)
    assert done.returncode == 1
    answers = {json.loads(line)["file"].split("/")[-1]: json.loads(line) for line in done.stdout.splitlines()}
    assert list(answers) == [f.name for f in files]
    for name, label in truth.items():
        assert answers[name]["digit"] == label, name
        assert len(answers[name]["probabilities"]) == 10 and abs(sum(answers[name]["probabilities"]) - 1) < 1e-4
        assert answers[name]["confidence"] == max(answers[name]["probabilities"])
    assert "no digit found" in answers["blank.png"]["error"]
    assert "not an image" in answers["notes.png"]["error"]
    assert "no such file" in answers["missing.png"]["error"]
    good = lenet("predict", "--checkpoint", str(path), str(files[0]))
    assert f": {truth['canvas.png']} (" in good.stdout


def test_summary_prints_the_lenet_walk():
    out = lenet("summary", "lenet5").stdout
    assert "(32 + 2·0 − 5)/1 + 1 = 28" in out and "61,706" in out
    layers = json.loads(lenet("summary", "mlp", "--json").stdout)["layers"]
    assert [layer["out_shape"] for layer in layers][-1] == [10]


def test_export_onnx_and_torchscript_match_pytorch(trained, tmp_path):
    import onnxruntime

    from lenet.checkpoints import load_model
    path, _ = trained
    model, _ = load_model(path)
    x = torch.randn(3, 1, 28, 28)
    expected = model(x).detach().numpy()
    lenet("export", "--checkpoint", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    assert np.allclose(session.run(None, {"image": x.numpy()})[0], expected, atol=1e-4)
    lenet("export", "--checkpoint", str(path), "--format", "torchscript", "--out", str(tmp_path / "m.ts"))
    assert np.allclose(torch.jit.load(str(tmp_path / "m.ts"))(x).detach().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("args, message", [
    (["train", "--model", "resnet"], "invalid choice"),
    (["train", "--epochs", "0"], "epochs must be from 1 to 100"),
    (["train", "--lr", "0"], "learning rate (peak) must be from"),
    (["train", "--lr", "-3"], "learning rate (peak) must be from"),
    (["train", "--batch-size", "0"], "batch size must be from 1"),
    (["train", "--epochs", "two"], "invalid int value"),
    (["train", "--device", "tpu"], "device"),
    (["evaluate", "--checkpoint", "no/such.pt"], "no such file"),
    (["export", "--checkpoint", "no/such.pt", "--format", "onnx", "--out", "x.onnx"], "no such file"),
    (["summary", "lenet7"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_a_message(args, message):
    done = lenet(*args, check=False)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_foreign_checkpoint_is_refused_cleanly(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    done = lenet("evaluate", "--checkpoint", str(bad), check=False)
    assert done.returncode == 1 and "refused" in done.stderr


def test_help_works_everywhere():
    for command in ([], ["train"], ["evaluate"], ["predict"], ["summary"], ["export"], ["data"]):
        assert "usage" in lenet(*command, "--help").stdout


def test_the_cli_offers_layers():
    text = " ".join(lenet("train", "--help").stdout.split())  # argparse wraps the help to the terminal's width
    assert "--layers {all,classifier}" in text and "the classifier only: fine-tuning keeps the learned features" in text


def test_a_cli_run_is_named_and_ordered_as_the_apps_are(tmp_path):
    """One naming rule and one order for both: a run the CLI saves lands first in the picker's list,
    after a run the app saved earlier (the CLI's runs used to sort after every app run)."""
    from lenet.checkpoints import CHECKPOINT_DIR
    from lenet.classroom.runs import STAMP, saved_runs
    earlier = tmp_path / "20200101-000000-lenet5-relu.pt"
    shutil.copy(CHECKPOINT_DIR / "lenet5.pt", earlier)
    lenet("train", "--limit", "500", "--epochs", "1", "--activation", "tanh", env={"LENET_RUNS": str(tmp_path)})
    newest, older = saved_runs(tmp_path)
    assert older == earlier and STAMP.match(newest.stem) and newest.stem.endswith("-lenet5-tanh"), newest
