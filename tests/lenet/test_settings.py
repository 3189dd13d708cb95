"""Training settings are written once, in TrainConfig: the CLI, the Train form and validate()
all take their help, choices and limits from there."""
import pytest
from streamlit.testing.v1 import AppTest

from lenet.cli import build_parser, main
from lenet.config import TrainConfig
from lenet.files import ROOT
from lenet.settings import settings_of

SETTINGS = settings_of(TrainConfig)


def test_every_training_field_describes_itself():
    assert [s.name for s in SETTINGS] == list(TrainConfig.__dataclass_fields__)
    for s in SETTINGS:
        assert s.label and s.help and s.kind in (int, float, str, bool)
        assert s.choices or s.kind in (bool, str) or (s.low is not None and s.high is not None), s.name
        assert s.problem(s.default) is None, s.name  # every default is allowed


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs must be from 1 to 100, got 0"),
    ("batch_size", 5000, "batch size must be from 1 to 4096, got 5000"),
    ("lr", 0.0, "learning rate"), ("lr", float("nan"), "learning rate"), ("epochs", 2.5, "whole number"),
    ("optimizer", "adagrad", "optimizer must be adamw, adam or sgd"),
    ("model", "resnet", "model to train must be lenet5, lenet5-classic, mlp or design"),
    ("design", 5, "design must be text, got 5"),
    ("device", "tpu", "device"), ("label_smoothing", 1.0, "label smoothing"), ("limit", 0, "training images"),
])
def test_bad_settings_are_explained(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value}).validate()


def test_the_cli_is_built_from_the_settings():
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]
    actions = {a.dest: a for a in train._actions}
    for s in SETTINGS:
        if not s.cli:
            assert s.name not in actions
            continue
        action = actions[s.name]
        assert action.option_strings == [s.flag] and s.help.replace("%", "%%") in action.help
        assert tuple(action.choices or ()) == s.choices
        assert action.default == s.default


@pytest.mark.parametrize("args, setting", [(["--epochs", "0"], "epochs"), (["--batch-size", "0"], "batch_size"),
                                           (["--lr", "0"], "lr"), (["--label-smoothing", "0.9"], "label_smoothing"),
                                           (["--limit", "70000"], "limit")])
def test_the_cli_refuses_what_validate_refuses_with_the_same_words(args, setting, capsys):
    spec = next(s for s in SETTINGS if s.name == setting)
    with pytest.raises(SystemExit) as exit_:
        main(["train", *args])
    assert exit_.value.code == 2
    assert spec.problem(spec.kind(args[1])) in capsys.readouterr().err


@pytest.mark.app
def test_the_train_form_uses_the_same_labels_and_limits():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    numbers = {n.label: n for n in at.number_input}
    choices = {s.label: s for s in at.selectbox}
    for s in SETTINGS:
        if not s.form:
            assert s.label not in numbers and s.label not in choices
        elif s.choices:
            assert [o for o in choices[s.label].options if o != "model's own"] == list(s.choices)
        elif s.kind is not bool:
            widget = numbers[s.label]
            assert (widget.min, widget.max) == (s.low, s.high) and widget.help == s.help
