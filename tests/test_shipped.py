"""The three checkpoints that ship in checkpoints/: real files, real MNIST, real targets."""
import re

import pytest

from lenet.checkpoints import load_model
from lenet.files import CHECKPOINT_DIR, data_root
from lenet.predict import classify
from lenet.preprocess import NoDigitError
from lenet.train import evaluate
from tests.synth import REPORT, drawings

pytestmark = pytest.mark.mnist

TARGETS = {"lenet5": 0.993, "lenet5-classic": 0.988, "mlp": 0.984}


@pytest.mark.parametrize("name, target", TARGETS.items())
def test_shipped_checkpoint_meets_its_accuracy_target(mnist, name, target):
    model, ckpt = load_model(CHECKPOINT_DIR / f"{name}.pt")
    accuracy = evaluate(model, mnist.test).accuracy
    assert accuracy >= target
    assert ckpt["model"] == name
    assert ckpt["metrics"]["eval_split"] == "test"
    assert ckpt["metrics"]["eval_accuracy"] == pytest.approx(accuracy, abs=2e-4)  # what it claims is true


def test_checkpoints_readme_records_each_command_and_accuracy():
    text = (CHECKPOINT_DIR / "README.md").read_text()
    for name in TARGETS:
        model, ckpt = load_model(CHECKPOINT_DIR / f"{name}.pt")
        command = rf"python -m lenet train --model {re.escape(name)} .*--out checkpoints/{re.escape(name)}\.pt"
        assert re.search(command, text)
        assert f"{100 * ckpt['metrics']['eval_accuracy']:.2f}%" in text


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
