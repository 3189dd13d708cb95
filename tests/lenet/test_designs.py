"""Designs (lenet/designs.py): the text, the walk worked out before building, and the model built
from it, checked against PyTorch's own shapes and parameter counts for hundreds of designs."""
import json
import random

import pytest
import torch

from lenet.checkpoints import load_model, save_epoch
from lenet.cli import main
from lenet.config import TrainConfig
from lenet.data import normalise
from lenet.designs import LENET5, LIMITS, Designed, DesignError, check, parse, text_of
from lenet.files import CHECKPOINT_DIR
from lenet.inside.introspect import layer_table
from lenet.messages import ENGLISH, Message
from lenet.train import Hook, train
from tests.conftest import digits_data


def test_the_issues_examples():
    lenet = check(LENET5)
    assert lenet.problem is None and lenet.params == 61_706
    no_padding = check("c6k5-m2-c16k5-m2-f120")
    sides = [r.out_shape[-1] for r in no_padding.rows if r.kind in ("Conv2d", "MaxPool2d")]
    assert sides == [24, 12, 8, 4]
    assert next(r for r in no_padding.rows if r.name == "classifier.fc1").in_shape == (256,)
    assert str(check("c6k5-m2-c16k5-m2-c16k5").problem) == \
        "conv3's 5×5 window is larger than its 4×4 input: there is no output"


def test_the_text_has_one_spelling():
    assert text_of(parse(" C6K5P2S1 - m2 -- a3-F120 ")) == "c6k5p2-m2-a3-f120"
    for bad in ("", "-", "x5", "c6", "c6k", "k5", "c6k5p", "f", "m", "c6k5²", "c６k5", "f1e3", "c-6k5"):
        problem = check(bad).problem
        assert problem is not None and problem.key in ("design.empty", "design.syntax"), bad


def test_lenet5s_own_weights_give_the_same_answers_in_its_design(digits):
    """The design names its layers as LeNet5 does and pads with blank paper: the shipped lenet5's
    state_dict loads into it, and with ReLU after max-pooling (they commute) the logits agree."""
    shipped, _ = load_model(CHECKPOINT_DIR / "lenet5.pt")
    designed = Designed(LENET5, "relu")
    designed.load_state_dict(shipped.state_dict())
    designed.eval()
    x = normalise(torch.from_numpy(digits[0][:50]))  # (50, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(designed(x), shipped(x), rtol=1e-5, atol=1e-5)


def random_design(rng: random.Random) -> str:
    """A design text that is often valid and often not: numbers now and then just past their
    limits, one layer too many, layers out of order, and once in a while a part that isn't a layer."""
    def number(what: str) -> int:
        low, high = LIMITS[what]
        if rng.random() < 0.04:
            return rng.choice([low - 1, high + 1])
        if what in ("channels", "units") and rng.random() < 0.75:  # mostly small: the sweep stays quick
            high = low + (high - low) // 8
        return rng.randint(low, high)

    layers = []
    for _ in range(rng.randint(0, LIMITS["convs"] + (rng.random() < 0.1))):
        conv = f"c{number('channels')}k{number('kernel')}"
        conv += f"p{number('padding')}" if rng.random() < 0.5 else ""
        conv += f"s{number('stride')}" if rng.random() < 0.3 else ""
        layers.append(conv)
        if rng.random() < 0.6:
            layers.append(rng.choice("ma") + str(number("pool")))
    layers += [f"f{number('units')}" for _ in range(rng.randint(0, LIMITS["fcs"] + (rng.random() < 0.1)))]
    if len(layers) > 1 and rng.random() < 0.05:
        rng.shuffle(layers)
    if not layers or rng.random() < 0.03:
        layers.insert(rng.randint(0, len(layers)), rng.choice(["q3", "c5", "f", "p2", "m"]))
    return "-".join(layers)


@pytest.fixture
def one_thread():
    """One image through small layers: a second intra-op thread only waits for a core (6x slower
    beside a busy one), so the sweep runs on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_walk_agrees_with_pytorch_for_five_hundred_designs(one_thread):
    """Every design, valid or not, gets a walk and never an exception. A valid one builds, and its
    walk is the model's own layer table (names, kinds, shapes, parameters, multiply-adds) and
    sum(p.numel()). An invalid one refuses to build,
    with the walk's reason."""
    rng, valid, invalid = random.Random(15), 0, 0
    for _ in range(500):
        text, activation = random_design(rng), rng.choice(["relu", "tanh", "sigmoid"])
        found = check(text, activation)
        if found.problem is not None:
            invalid += 1
            assert found.problem.key in {k for k in ENGLISH if k.startswith("design.")}, text
            with pytest.raises(DesignError) as raised:
                Designed(text, activation)
            assert raised.value.args[0] == found.problem, text
            continue
        valid += 1
        model = Designed(text, activation)
        table = layer_table(model)  # a zero image through the model's own layers, one by one, to its ten scores
        assert table == found.rows and table[-1].out_shape == (10,), text
        assert sum(p.numel() for p in model.parameters()) == found.params, text
    assert valid >= 125 and invalid >= 125, (valid, invalid)


def test_a_designed_run_is_saved_and_loads_as_its_design(digits, tmp_path):
    data = digits_data(digits)
    cfg = TrainConfig(design="c4k3p1-a2-f16", activation="tanh", epochs=1, batch_size=16, seed=1)
    assert cfg.model == "design"

    class Saver(Hook):
        def after_epoch(self, progress, report) -> None:
            self.path = save_epoch(tmp_path / "run.pt", cfg, progress.model, [report.to_dict()], report.optimizer)

    saver = Saver()
    result = train(cfg, data, saver)
    loaded, ckpt = load_model(saver.path)
    assert ckpt["model"] == "design" and ckpt["config"]["spec"] == "c4k3p1-a2-f16"
    assert isinstance(loaded, Designed) and loaded.spec == "c4k3p1-a2-f16"
    x = data.test.x[:8]
    result.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), result.model(x))


def test_an_impossible_design_is_refused_before_training(digits):
    with pytest.raises(ValueError) as raised:
        TrainConfig(design="c6k9-m4-c8k7").validate()
    assert isinstance(raised.value.args[0], Message) and "conv2" in str(raised.value)


def test_summary_of_a_design(capsys):
    assert main(["summary", "--design", "c6k5-m2-c16k5-m2-f120", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["model"] == "design" and said["params"] == check("c6k5-m2-c16k5-m2-f120").params
    assert said["multiply_adds"] == sum(layer["multiply_adds"] for layer in said["layers"]) > 0


@pytest.mark.parametrize("spec", ["c6k5-m2-c16k5-m2-c16k5", "c6k5-f120-m2", "c200k5", "hello"])
def test_summary_of_an_impossible_design_says_why_in_one_line(capsys, spec):
    assert main(["summary", "--design", spec]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and str(check(spec).problem) in out.err


GIANT = "c128k3p1-c128k3p1-c128k3p1-f512-f512-f512"  # 52M parameters: the grammar allows it, a class can't train it


def test_a_number_of_thousands_of_digits_is_a_reason_not_a_traceback():
    # failed at 95003f1: int() of a 5,000-digit string raised ValueError through check()
    for text in ("c" + "9" * 5000 + "k5", "f" + "1" * 5, "m" + "0" * 4300, "c6k5p" + "2" * 10):
        found = check(text)
        assert found.problem is not None and found.problem.key == "design.long_number" and not found.rows
        assert len(str(found.problem)) < 200  # the token is cut short in the message


def test_a_budget_s_limits_are_a_reason_like_any_other_with_every_row_kept():
    # failed at 95003f1: check() had no limits, and the 52M-parameter design was offered Try it
    free = check(GIANT)
    assert free.problem is None and free.params == 52_207_626
    capped = check(GIANT, max_params=1_000_000, max_multiply_adds=20_000_000)
    assert capped.problem.key == "design.too_big" and capped.problem.values == {"value": 52_207_626,
                                                                                "limit": 1_000_000}
    assert capped.whole and capped.params == free.params  # the table still shows the whole design
    work = check("c64k3p1-c64k3p1-m4-f8", max_params=1_000_000, max_multiply_adds=20_000_000)
    assert work.problem.key == "design.too_much_work" and work.problem.values["value"] == work.multiply_adds
    assert check(LENET5, max_params=61_706, max_multiply_adds=416_520).problem is None  # at the limit is allowed


def test_a_recipe_refuses_a_design_over_its_limits_and_has_none_unless_asked():
    TrainConfig(design=GIANT).validate()  # the command line trains what it is given
    with pytest.raises(ValueError) as raised:
        TrainConfig(design=GIANT, max_params=1_000_000).validate()
    assert raised.value.args[0].key == "design.too_big"
    with pytest.raises(SystemExit) as code:  # before MNIST is read: one line, exit 2
        main(["train", "--design", GIANT, "--max-params", "1000000", "--epochs", "1"])
    assert code.value.code == 2
