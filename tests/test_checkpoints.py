import os
import pickle

import pytest
import torch

from lenet.checkpoints import CheckpointError, load_checkpoint, load_model, make_checkpoint, save_checkpoint
from lenet.models import build_model


def saved(tmp_path, name="lenet5", **options):
    model = build_model(name, **options)
    path = save_checkpoint(tmp_path / "m.pt", make_checkpoint(name, options, model, {"test_accuracy": 0.5}, [], {"lr": 1}))
    return model, path


def test_round_trip_gives_identical_outputs(tmp_path):
    for name, options in [("lenet5", {"activation": "sigmoid"}), ("lenet5-classic", {}), ("mlp", {})]:
        model, path = saved(tmp_path, name, **options)
        loaded, ckpt = load_model(path)
        x = torch.randn(5, 1, 28, 28)
        assert torch.equal(model.eval()(x), loaded(x))
        assert ckpt["model"] == name and ckpt["metrics"]["test_accuracy"] == 0.5 and ckpt["train"] == {"lr": 1}
    assert ckpt["config"] == {"activation": "relu"}  # the mlp's resolved options


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    model, path = saved(tmp_path)
    bad = {"format": "lenet-lab/1", "unpicklable": lambda: None}
    with pytest.raises(Exception):
        save_checkpoint(path, bad)
    assert load_checkpoint(path)["model"] == "lenet5"  # the good file is untouched
    assert os.listdir(tmp_path) == ["m.pt"]


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


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
