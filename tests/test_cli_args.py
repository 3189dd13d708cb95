"""The command line's arguments, answered in this process (no MNIST, no training): help, usage
errors with exit code 2, a refused checkpoint, the layer table. tests/test_cli.py runs the CLI
end to end, in real processes."""
import json

import pytest

from lenet.cli import main


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
