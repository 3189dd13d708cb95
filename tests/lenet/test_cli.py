"""The CLI end to end, as a user runs it: real processes (train, predict), real files, real MNIST."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from lenet.cli import main
from tests.conftest import lenet


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


@pytest.mark.mnist
@pytest.mark.process
def test_train_json_reports_every_epoch(trained):
    path, epochs = trained
    assert [e["epoch"] for e in epochs] == [1, 2]
    for e in epochs:
        assert {"epoch", "train_loss", "eval_split", "eval_loss", "eval_accuracy", "elapsed_s",
                "samples_per_s"} <= set(e)
    assert epochs[1]["eval_split"] == "test"
    assert epochs[1]["eval_accuracy"] > 0.9 and epochs[1]["elapsed_s"] > epochs[0]["elapsed_s"] > 0
    assert path.is_file()


def here(capsys, *args: str) -> str:
    """The CLI run in this process (what a second process would add, test_train_json and
    test_predict show): its stdout."""
    assert main(list(args)) == 0
    return capsys.readouterr().out


@pytest.mark.mnist
@pytest.mark.process
def test_evaluate_reports_accuracy_per_class_and_confusion(trained, capsys):
    path, epochs = trained
    report = json.loads(here(capsys, "evaluate", "--checkpoint", str(path), "--json"))
    assert report["accuracy"] == pytest.approx(epochs[-1]["eval_accuracy"], abs=1e-6)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10000
    assert len(report["per_class"]) == 10
    text = here(capsys, "evaluate", "--checkpoint", str(path))
    assert "accuracy" in text and "confusion matrix" in text


@pytest.mark.mnist
@pytest.mark.process
def test_predict_answers_every_file_and_fails_only_the_bad_ones(trained, tmp_path, digits, capsys):
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
    good = here(capsys, "predict", "--checkpoint", str(path), str(files[0]))
    assert f": {truth['canvas.png']} (" in good


@pytest.mark.mnist
@pytest.mark.process
def test_export_onnx_and_torchscript_match_pytorch(trained, tmp_path, capsys):
    import onnxruntime

    from lenet.checkpoints import load_model
    path, _ = trained
    model, _ = load_model(path)
    x = torch.randn(3, 1, 28, 28)
    expected = model(x).detach().numpy()
    here(capsys, "export", "--checkpoint", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    assert np.allclose(session.run(None, {"image": x.numpy()})[0], expected, atol=1e-4)
    here(capsys, "export", "--checkpoint", str(path), "--format", "torchscript", "--out", str(tmp_path / "m.ts"))
    assert np.allclose(torch.jit.load(str(tmp_path / "m.ts"))(x).detach().numpy(), expected, atol=1e-5)


@pytest.mark.mnist
@pytest.mark.process
def test_a_cli_run_is_named_and_ordered_as_the_apps_are(tmp_path, monkeypatch, capsys):
    """One naming rule and one order for both: a run the CLI saves lands first in the picker's list,
    after a run the app saved earlier (the CLI's runs used to sort after every app run)."""
    from lenet.classroom.runs import STAMP, saved_runs
    from lenet.files import CHECKPOINT_DIR
    earlier = tmp_path / "20200101-000000-lenet5-relu.pt"
    shutil.copy(CHECKPOINT_DIR / "lenet5.pt", earlier)
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))  # read when the run is named, not at import
    here(capsys, "train", "--limit", "500", "--epochs", "1", "--activation", "tanh")
    newest, older = saved_runs(tmp_path)
    assert older == earlier and STAMP.match(newest.stem) and newest.stem.endswith("-lenet5-tanh"), newest


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m lenet ARGS`, run here."""
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("args, message", [
    (["train", "--model", "resnet"], "invalid choice"),
    (["train", "--epochs", "0"], "epochs must be from 1 to 100"),
    (["train", "--lr", "0"], "learning rate (peak) must be from"),
    (["train", "--lr", "-3"], "learning rate (peak) must be from"),
    (["train", "--batch-size", "0"], "batch size must be from 1"),
    (["train", "--epochs", "two"], "invalid int value"),
    (["train", "--device", "tpu"], "device"),
    (["train", "--kernels", "turbo"], "invalid choice"),
    (["evaluate", "--checkpoint", "no/such.pt"], "no such file"),
    (["export", "--checkpoint", "no/such.pt", "--format", "onnx", "--out", "x.onnx"], "no such file"),
    (["summary", "lenet7"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_a_message(capsys, args, message):
    code, _, err = cli(capsys, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_foreign_checkpoint_is_refused_cleanly(capsys, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    code, _, err = cli(capsys, "evaluate", "--checkpoint", str(bad))
    assert code == 1 and "refused" in err


def test_help_works_everywhere(capsys):
    for command in ([], ["train"], ["evaluate"], ["predict"], ["summary"], ["export"], ["data"]):
        code, out, _ = cli(capsys, *command, "--help")
        assert code == 0 and "usage" in out


def test_the_cli_offers_layers_and_kernels(capsys):
    text = " ".join(cli(capsys, "train", "--help")[1].split())  # argparse wraps the help to the terminal's width
    assert "--layers {all,classifier}" in text and "the classifier only: fine-tuning keeps the learned features" in text
    assert "--kernels {fast,plain}" in text


def test_summary_prints_the_lenet_walk(capsys):
    out = cli(capsys, "summary", "lenet5")[1]
    assert "(32 + 2·0 − 5)/1 + 1 = 28" in out and "61,706" in out
    layers = json.loads(cli(capsys, "summary", "mlp", "--json")[1])["layers"]
    assert [layer["out_shape"] for layer in layers][-1] == [10]
