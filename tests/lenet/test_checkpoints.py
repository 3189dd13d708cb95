import os
import pickle
import re

import pytest
import torch

from harness.synth import REPORT, drawings
from lenet.checkpoints import (
    FORMAT,
    CheckpointError,
    accuracy_of,
    load_checkpoint,
    load_model,
    make_checkpoint,
    save_checkpoint,
)
from lenet.files import CHECKPOINT_DIR, data_root
from lenet.predict import classify
from lenet.preprocess import NoDigitError
from lenet.registry import build_model
from lenet.train import evaluate
from tests.conftest import Exploit


def saved(tmp_path, name="lenet5", **options):
    model = build_model(name, **options)
    ckpt = make_checkpoint(name, options, model, {"eval_accuracy": 0.5}, [], {"lr": 1})
    path = save_checkpoint(tmp_path / "m.pt", ckpt)
    return model, path


def test_round_trip_gives_identical_outputs(tmp_path):
    for name, options in [("lenet5", {"activation": "sigmoid"}), ("lenet5-classic", {}), ("mlp", {})]:
        model, path = saved(tmp_path, name, **options)
        loaded, ckpt = load_model(path)
        x = torch.randn(5, 1, 28, 28)
        assert torch.equal(model.eval()(x), loaded(x))
        assert ckpt["model"] == name and ckpt["metrics"]["eval_accuracy"] == 0.5 and ckpt["train"] == {"lr": 1}
    assert ckpt["config"] == {"activation": "relu"}  # the mlp's resolved options


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    model, path = saved(tmp_path)
    bad = {"format": FORMAT, "unpicklable": lambda: None}
    with pytest.raises((AttributeError, pickle.PicklingError)):  # a lambda can't be pickled
        save_checkpoint(path, bad)
    assert load_checkpoint(path)["model"] == "lenet5"  # the good file is untouched
    assert os.listdir(tmp_path) == ["m.pt"]


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": "lenet-lab/1", "payload": Exploit()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()
    raw = tmp_path / "raw.pt"  # a bare pickle, not even a zip
    raw.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="refused"):
        load_model(raw)
    assert not (tmp_path / "pwned").exists()


def test_truncated_and_foreign_files_are_refused_with_a_reason(tmp_path):
    _, path = saved(tmp_path)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(truncated)
    state_dict_only = tmp_path / "sd.pt"
    torch.save(build_model("lenet5").state_dict(), state_dict_only)
    with pytest.raises(CheckpointError, match="not a LeNet Lab checkpoint"):
        load_checkpoint(state_dict_only)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(text)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_weights_that_do_not_fit_the_model_are_refused(tmp_path):
    ckpt = make_checkpoint("lenet5", {}, build_model("lenet5"), {}, [])
    ckpt["model"] = "mlp"
    ckpt["config"] = {"activation": "relu"}
    path = save_checkpoint(tmp_path / "mixed.pt", ckpt)
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(path)


def test_format_1_checkpoints_load_with_fixed_metric_keys(tmp_path):
    """Format 1 named metrics after the split evaluated; loading gives format 2's fixed keys."""
    history = [{"epoch": 1, "train_loss": 0.4, "train_accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.95,
                "elapsed_s": 3.0, "train_s": 2.5, "samples_per_s": 20000.0}]
    old = make_checkpoint("lenet5", {}, build_model("lenet5"), {"val_loss": 0.2, "val_accuracy": 0.95, "epochs": 1},
                          history, {"epochs": 1, "train_limit": 500})
    old["format"] = "lenet-lab/1"
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "old.pt", old))
    assert ckpt["format"] == FORMAT
    assert ckpt["history"][0] == {"epoch": 1, "train_loss": 0.4, "train_accuracy": 0.9, "eval_split": "val",
                                 "eval_loss": 0.2, "eval_accuracy": 0.95, "elapsed_s": 3.0, "train_s": 2.5,
                                 "samples_per_s": 20000.0}
    assert ckpt["metrics"] == {"eval_split": "val", "eval_loss": 0.2, "eval_accuracy": 0.95, "epochs": 1}
    assert ckpt["train"] == {"epochs": 1, "limit": 500} and accuracy_of(ckpt) == 0.95
    shipped = torch.load(CHECKPOINT_DIR / "lenet5.pt", weights_only=True)  # on disk: still format 1
    assert shipped["format"] == "lenet-lab/1" and "test_accuracy" in shipped["metrics"]
    assert accuracy_of(load_checkpoint(CHECKPOINT_DIR / "lenet5.pt")) == shipped["metrics"]["test_accuracy"]




TARGETS = {"lenet5": 0.993, "lenet5-classic": 0.988, "mlp": 0.984}


@pytest.mark.mnist
@pytest.mark.parametrize("name, target", TARGETS.items())
def test_shipped_checkpoint_meets_its_accuracy_target(mnist, name, target):
    model, ckpt = load_model(CHECKPOINT_DIR / f"{name}.pt")
    accuracy = evaluate(model, mnist.test).accuracy
    assert accuracy >= target
    assert ckpt["model"] == name
    assert ckpt["metrics"]["eval_split"] == "test"
    assert ckpt["metrics"]["eval_accuracy"] == pytest.approx(accuracy, abs=2e-4)  # what it claims is true


@pytest.mark.mnist
def test_checkpoints_readme_records_each_command_and_accuracy():
    text = (CHECKPOINT_DIR / "README.md").read_text()
    for name in TARGETS:
        model, ckpt = load_model(CHECKPOINT_DIR / f"{name}.pt")
        command = rf"python -m lenet train --model {re.escape(name)} .*--out checkpoints/{re.escape(name)}\.pt"
        assert re.search(command, text)
        assert f"{100 * ckpt['metrics']['eval_accuracy']:.2f}%" in text


@pytest.mark.mnist
def test_lenet5_reads_drawings():
    """A slice of the drawings benchmark (the full one is bench/drawings.py): every kind of
    drawing, from test digits the preprocessing was never tuned on."""
    model, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    from torchvision.datasets import MNIST  # here: importing it costs 2.5 s, outside the fast tier

    test = MNIST(str(data_root()), train=False)
    right = 0
    sample = drawings(test.data.numpy(), test.targets.numpy(), REPORT, 270, seed=11)
    for d in sample:
        try:
            right += classify(model, d.image).digit == d.label
        except NoDigitError:
            pass
    assert right / len(sample) >= 0.95
