"""Export as plain PyTorch (lenet/export.py): model.py needs only torch, takes pixels in [0, 1],
and answers as the model it came from."""
import importlib.util
import io
import json
import subprocess
import sys
import zipfile

import pytest
import torch

from lenet.checkpoints import load_model, make_checkpoint, save_checkpoint
from lenet.cli import main
from lenet.data import normalise, pixels
from lenet.designs import Designed
from lenet.export import pytorch_zip
from lenet.files import CHECKPOINT_DIR

SHIPPED = ["lenet5", "lenet5-classic", "mlp"]


def exported(tmp_path, checkpoint) -> object:
    """Export `checkpoint` with the CLI and import its model.py as a module of its own."""
    out = tmp_path / "export"
    assert main(["export", str(checkpoint), "--format", "pytorch", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "model.py", "weights.pt"]
    source = (out / "model.py").read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"torch", "collections"}  # torch only (and the standard library's OrderedDict)
    spec = importlib.util.spec_from_file_location(f"exported_{tmp_path.name}", out / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(str(out / "weights.pt"))


def a_design(tmp_path):
    torch.manual_seed(4)
    model = Designed("c5k3p1-a2-c7k3s2-m2-f24", "sigmoid")
    ckpt = make_checkpoint("design", {"spec": model.spec, "activation": "sigmoid"}, model, {}, [])
    return save_checkpoint(tmp_path / "design.pt", ckpt)


@pytest.mark.parametrize("name", [*SHIPPED, "a design"])
def test_the_export_answers_as_the_model_it_came_from(tmp_path, digits, name):
    path = a_design(tmp_path) if name == "a design" else CHECKPOINT_DIR / f"{name}.pt"
    original, _ = load_model(path)
    net = exported(tmp_path, path)
    pixels = torch.from_numpy(digits[0]).float().unsqueeze(1) / 255  # (100, 1, 28, 28) in [0, 1], as MNIST's
    with torch.no_grad():
        torch.testing.assert_close(net(pixels), original(normalise(torch.from_numpy(digits[0]))),
                                   rtol=1e-5, atol=1e-5)


def test_a_checkpoint_is_needed(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--format", "pytorch", "--out", "x"])
    assert exit_.value.code == 2 and "CHECKPOINT" in capsys.readouterr().err


EVALUATE = """
import importlib.util, json, sys
import torch
x, y = torch.load(sys.argv[1], weights_only=True)
scores = {}
for folder in sys.argv[2:]:
    spec = importlib.util.spec_from_file_location("model_" + str(len(scores)), folder + "/model.py")
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    net = model.load(folder + "/weights.pt")
    with torch.no_grad():
        right = sum((net(x[i:i + 1000].float() / 255).argmax(1) == y[i:i + 1000]).sum().item()
                    for i in range(0, len(y), 1000))
    scores[folder] = right / len(y)
print(json.dumps({"accuracy": scores, "lenet": sorted(m for m in sys.modules if m.split(".")[0] == "lenet")}))
"""


@pytest.mark.process
def test_in_a_fresh_python_with_only_torch_each_export_scores_as_its_checkpoint(tmp_path, mnist):
    """python -I (no site, no PYTHONPATH, no lenet) evaluates each export on MNIST's test bytes."""
    raw = torch.from_numpy(pixels(mnist.test.x)).unsqueeze(1)  # (10000, 1, 28, 28) uint8: MNIST's own bytes
    torch.save((raw, mnist.test.y), tmp_path / "test.pt")
    for name in SHIPPED:
        assert main(["export", str(CHECKPOINT_DIR / f"{name}.pt"), "--format", "pytorch",
                     "--out", str(tmp_path / name)]) == 0
    done = subprocess.run([sys.executable, "-I", "-c", EVALUATE, str(tmp_path / "test.pt"),
                           *(str(tmp_path / name) for name in SHIPPED)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["lenet"] == []
    for name in SHIPPED:
        claimed = load_model(CHECKPOINT_DIR / f"{name}.pt")[1]["metrics"]["eval_accuracy"]
        assert abs(said["accuracy"][str(tmp_path / name)] - claimed) <= 0.001, name


def test_the_apps_zip_holds_the_same_three_files(tmp_path, digits):
    """Explain's "Download as PyTorch": a zip of the files the CLI writes, in a folder of its own."""
    path = CHECKPOINT_DIR / "lenet5.pt"
    model, ckpt = load_model(path)
    with zipfile.ZipFile(io.BytesIO(pytorch_zip(model, ckpt, "lenet5-pytorch"))) as archive:
        assert sorted(archive.namelist()) == ["lenet5-pytorch/README.md", "lenet5-pytorch/model.py",
                                              "lenet5-pytorch/weights.pt"]
        archive.extractall(tmp_path / "zip")
    assert main(["export", str(path), "--format", "pytorch", "--out", str(tmp_path / "cli")]) == 0
    for name in ("model.py", "README.md"):
        assert (tmp_path / "zip" / "lenet5-pytorch" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
