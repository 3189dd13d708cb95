"""python -m lenet data|train|evaluate|predict|calibrate|robustness|summary|export"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from .checkpoints import CheckpointError, load_model, save_checkpoint, save_epoch
from .classroom.runs import run_name
from .classroom.tuning import keep_freed_memory
from .config import TrainConfig, pick_device
from .data import DataError, Mnist, ensure_mnist, load_mnist, mnist_here
from .designs import LENET5
from .export import export_pytorch
from .files import CHECKPOINT_DIR, runs_dir, write_atomic
from .ink import ImageError, load_image
from .inside.adversarial import ATTACKS, EPSILONS, accuracy_curve, hardened
from .inside.introspect import layer_table
from .inside.ood import Calibration, calibration_for, for_checkpoint, judge, of_checkpoint
from .models import ACTIVATIONS, POOLS
from .predict import classify
from .preprocess import NoDigitError
from .registry import MODELS, build_model
from .settings import Setting, settings_of
from .train import EpochReport, Hook, Progress, evaluate, train

DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "lenet5.pt"


class UsageError(Exception):
    """Bad arguments: reported with the usage line and exit code 2."""


def _existing_file(text: str) -> Path:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return Path(text)


def _epsilons(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r} (write e.g. 0,0.1,0.2)") from None
    if not all(0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"each ε must be 0..1 (pixels on the 0..1 scale), got {text}")
    return values


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lenet", description="LeNet Lab: MNIST digits with LeNet-5.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("data", help="fetch and verify the MNIST files into data/")

    t = sub.add_parser("train", help="train a model and save a checkpoint")
    for spec in settings_of(TrainConfig):  # each setting's help and limits are written once, in TrainConfig
        if spec.cli:
            _add_setting(t, spec)
    t.add_argument("--out", type=Path, help="checkpoint path (default: the runs folder, $LENET_RUNS or "
                   "checkpoints/runs/, as TIME-MODEL-ACTIVATION.pt)")
    t.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout")

    e = sub.add_parser("evaluate", help="test loss, accuracy, per-class accuracy and confusion matrix")
    e.add_argument("--checkpoint", type=_existing_file, default=DEFAULT_CHECKPOINT)
    e.add_argument("--device", default="auto")
    e.add_argument("--json", action="store_true")

    p = sub.add_parser("predict", help="predict the digit in image files")
    p.add_argument("--checkpoint", type=_existing_file, default=DEFAULT_CHECKPOINT)
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("files", nargs="+", metavar="FILE")

    c = sub.add_parser("calibrate", help="save the digit-like check in checkpoints, so predict works offline")
    c.add_argument("checkpoints", nargs="+", type=_existing_file, metavar="CHECKPOINT")

    r = sub.add_parser("robustness", help="test accuracy against an attack's ε (adversarial examples)")
    r.add_argument("checkpoint", type=_existing_file, metavar="CHECKPOINT")
    r.add_argument("--attack", choices=ATTACKS, default="fgsm", help="fgsm: one step · pgd: 20 projected steps")
    r.add_argument("--eps", type=_epsilons, default=EPSILONS, metavar="E1,E2,...",
                   help="ε in pixels on the 0..1 scale, comma-separated (default: 0,0.05,...,0.3)")
    r.add_argument("--limit", type=_positive, metavar="N", help="the first N test digits only (default: all 10,000)")
    r.add_argument("--device", default="auto")
    r.add_argument("--json", action="store_true", help='one object: {"attack", "eps", "accuracy"}')

    s = sub.add_parser("summary", help="the layer table of a model, or of a design")
    s.add_argument("model", nargs="?", choices=list(MODELS), metavar="MODEL", help=f"one of {', '.join(MODELS)}")
    s.add_argument("--design", metavar="SPEC", help=f"your own network as text, e.g. {LENET5} (lenet/designs.py)")
    s.add_argument("--activation", choices=list(ACTIVATIONS))
    s.add_argument("--pool", choices=list(POOLS))
    s.add_argument("--json", action="store_true")

    x = sub.add_parser("export", help="export a checkpoint: plain PyTorch (a folder), ONNX or TorchScript")
    x.add_argument("checkpoint", nargs="?", type=_existing_file, metavar="CHECKPOINT")
    x.add_argument("--checkpoint", type=_existing_file, dest="checkpoint_flag", metavar="CHECKPOINT",
                   help="the same as CHECKPOINT")
    x.add_argument("--format", choices=("pytorch", "onnx", "torchscript"), required=True,
                   help="pytorch: a folder with model.py (needs only torch), weights.pt and a README")
    x.add_argument("--out", type=Path, required=True, help="the folder (pytorch) or the file to write")
    return parser


def _add_setting(parser: argparse.ArgumentParser, spec: Setting) -> None:
    """One `train` argument from a TrainConfig setting; TrainConfig.validate checks the value."""
    text = spec.help.replace("%", "%%")  # argparse formats help with %
    if spec.kind is bool:
        parser.add_argument(spec.flag, action="store_true", help=text)
        return
    shown = "the model's own" if spec.optional and spec.choices else ("all" if spec.optional else "%(default)s")
    limits = f"; {spec.limits}" if spec.limits and not spec.choices else ""
    parser.add_argument(spec.flag, dest=spec.name, type=spec.kind, choices=spec.choices or None,
                        default=spec.default, help=f"{text} (default: {shown}{limits})")


def _say(message: str, quiet: bool = False) -> None:
    print(message, file=sys.stderr if quiet else sys.stdout, flush=True)


def cmd_data(args: argparse.Namespace) -> int:
    path = ensure_mnist(progress=lambda m: _say(m))
    _say(f"MNIST is ready in {path} (MD5 verified).")
    return 0


class Printer(Hook):
    """The command line's hook: a progress line every REPORT_EVERY batches, and each epoch
    saved to `out` and printed (as one JSON object per line with --json)."""
    REPORT_EVERY = 20

    def __init__(self, cfg: TrainConfig, out: Path, quiet: bool, data: Mnist) -> None:
        self.cfg, self.out, self.quiet, self.data = cfg, out, quiet, data  # data: for each epoch's calibration
        self.history: list[dict] = []

    def after_batch(self, progress: Progress) -> None:
        if self.quiet or (progress.batch % self.REPORT_EVERY and progress.batch != progress.batches):
            return
        r = progress.report()
        print(f"  epoch {r.epoch}/{self.cfg.epochs}  batch {r.batch:>4}/{r.batches}  loss {r.loss:.4f}  "
              f"acc {r.accuracy:6.2%}  {r.samples_per_s:,.0f} samples/s", flush=True)

    def after_epoch(self, progress: Progress, r: EpochReport) -> None:
        self.history.append(r.to_dict())
        save_epoch(self.out, self.cfg, progress.model, self.history, r.optimizer,
                   for_checkpoint(progress.model, self.data))
        if self.quiet:
            print(json.dumps(self.history[-1]), flush=True)
            return
        print(f"epoch {r.epoch}: train loss {r.train_loss:.4f} acc {r.train_accuracy:.2%} | {r.eval_split} loss "
              f"{r.eval_loss:.4f} acc {r.eval_accuracy:.2%} | {r.elapsed_s:.1f}s, {r.samples_per_s:,.0f} samples/s",
              flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    cfg = TrainConfig(**{s.name: getattr(args, s.name) for s in settings_of(TrainConfig) if s.cli})
    try:
        cfg.validate()
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = args.out or runs_dir() / f"{run_name(cfg)}.pt"
    quiet = args.json
    data = load_mnist(val_size=cfg.val_size, seed=cfg.seed, progress=lambda m: _say(m, quiet=True))
    _say(f"Training {cfg.model} on {pick_device(cfg.device)} for {cfg.epochs} epoch(s)…", quiet)
    printer = Printer(cfg, out, quiet, data)
    try:
        train(cfg, data, hardened(printer, cfg))
    except KeyboardInterrupt:
        kept = f"The last completed epoch is saved in {out}." if printer.history else "Nothing saved."
        _say(f"Interrupted. {kept}", quiet=True)
        return 130
    _say(f"Saved {out}", quiet)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    model, ckpt = load_model(args.checkpoint, pick_device(args.device))
    test = load_mnist(progress=lambda m: _say(m, quiet=True)).test
    result = evaluate(model, test)
    report = {"checkpoint": str(args.checkpoint), "model": ckpt["model"], "loss": result.loss,
              "accuracy": result.accuracy, "per_class": result.per_class, "confusion": result.confusion.tolist()}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{args.checkpoint} ({ckpt['model']}): test loss {result.loss:.4f}, accuracy {result.accuracy:.2%}")
    print("per-class accuracy: " + "  ".join(f"{d}: {a:.2%}" for d, a in enumerate(result.per_class)))
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(result.confusion.tolist()):
        print(f"{d:>6}" + "".join(f"{v:>6}" for v in row))
    return 0


def _predict_file(model: torch.nn.Module, cal: Calibration | None, path: str) -> dict[str, Any]:
    try:
        answer = classify(model, load_image(path))
    except (ImageError, NoDigitError) as err:
        return {"file": path, "error": str(err)}
    verdict = judge(cal, model, answer.steps.tensor)[0] if cal is not None else None  # lenet/inside/ood.py
    return {"file": path, "digit": answer.digit, "confidence": answer.confidence, "probabilities": answer.probs,
            "ood_score": verdict and verdict.score, "digit_like": verdict and verdict.digit_like}


def _calibration(model: torch.nn.Module, ckpt: dict[str, Any], path: Path) -> Calibration | None:
    """The checkpoint's own calibration; made from MNIST if it has none and MNIST is here; else None, said once."""
    cal = of_checkpoint(ckpt)
    if cal is None and mnist_here():
        cal = calibration_for(model, load_mnist(progress=lambda m: _say(m, quiet=True)))
    if cal is None:
        _say(f"note: no digit-like check: {path.name} was saved without one and MNIST is not here "
             f"(`python -m lenet calibrate {path}` adds it, once MNIST is)", quiet=True)
    return cal


def cmd_calibrate(args: argparse.Namespace) -> int:
    data = load_mnist(progress=lambda m: _say(m, quiet=True))
    for path in args.checkpoints:
        model, _ = load_model(path)  # checked whole; the file is written back as it was, in its own format
        saved = torch.load(path, map_location="cpu", weights_only=True)
        save_checkpoint(path, saved | {"calibration": for_checkpoint(model, data)})
        _say(f"{path}: the digit-like check is saved in it")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    model, ckpt = load_model(args.checkpoint)
    cal = _calibration(model, ckpt, args.checkpoint)
    failed = False
    for path in args.files:
        answer = _predict_file(model, cal, path)
        failed |= "error" in answer
        if args.json:
            print(json.dumps(answer), flush=True)
        elif "error" in answer:
            print(f"{path}: error: {answer['error']}", flush=True)
        else:
            doubt = "" if answer["digit_like"] in (True, None) else f", but it doesn't look like a digit " \
                f"(off-distribution score {answer['ood_score']:.3f})"
            print(f"{path}: {answer['digit']} ({answer['confidence']:.1%}){doubt}", flush=True)
    return 1 if failed else 0


def cmd_robustness(args: argparse.Namespace) -> int:
    model, ckpt = load_model(args.checkpoint, pick_device(args.device))
    test = load_mnist(progress=lambda m: _say(m, quiet=True)).test.head(args.limit)
    accuracy = accuracy_curve(model, test.x, test.y, args.eps, args.attack)
    if args.json:
        print(json.dumps({"attack": args.attack, "eps": list(args.eps), "accuracy": accuracy}))
        return 0
    print(f"{args.checkpoint} ({ckpt['model']}), {args.attack} on {len(test):,} test digits:")
    for eps, acc in zip(args.eps, accuracy, strict=True):
        print(f"  ε = {eps:<5g} accuracy {acc:.2%}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """The layers with their shapes and parameters; for an impossible design, its reason and exit 2."""
    name = "design" if args.design is not None else args.model
    if name is None:
        raise UsageError("give a MODEL, or --design SPEC")
    try:
        model = build_model(name, activation=args.activation, pool=args.pool, spec=args.design)
    except ValueError as err:  # an impossible design, or an option the model hasn't: one line says why
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = layer_table(model)
    total, work = sum(r.params for r in rows), sum(r.multiply_adds for r in rows)
    if args.json:
        print(json.dumps({"model": name, "design": args.design, "params": total, "multiply_adds": work, "layers": [
            {"name": r.name, "kind": r.kind, "in_shape": r.in_shape, "out_shape": r.out_shape, "params": r.params,
             "multiply_adds": r.multiply_adds, "formula": r.formula} for r in rows]}))
        return 0
    shape = lambda s: "×".join(map(str, s))  # noqa: E731
    print(f"{name}: {args.design or MODELS[name].about}")
    print(f"{'layer':<20}{'type':<15}{'input':<11}{'output':<11}{'params':>9}{'mult-adds':>12}   size")
    for r in rows:
        print(f"{r.name:<20}{r.kind:<15}{shape(r.in_shape):<11}{shape(r.out_shape):<11}{r.params:>9,}"
              f"{r.multiply_adds:>12,}   {r.formula}")
    print(f"{'total':<57}{total:>9,}{work:>12,}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    path = args.checkpoint or args.checkpoint_flag
    if path is None:
        raise UsageError("give the CHECKPOINT to export")
    model, ckpt = load_model(path)
    if args.format == "pytorch":
        export_pytorch(model, ckpt, args.out)
        print(f"Exported {ckpt['model']} to {args.out}/: model.py (needs only torch), weights.pt, README.md; "
              "input: (N, 1, 28, 28) in [0, 1], output: scores (N, 10)")
        return 0
    example = torch.zeros(1, 1, 28, 28)  # (N, 1, 28, 28), normalised

    def write(f) -> None:
        if args.format == "onnx":
            torch.onnx.export(model, (example,), f, dynamo=False, input_names=["image"], output_names=["logits"],
                              dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        else:
            torch.jit.save(torch.jit.trace(model, example), f)

    write_atomic(args.out, write)
    print(f"Exported {ckpt['model']} to {args.out} ({args.format}); "
          "input: (N, 1, 28, 28) normalised, output: logits (N, 10)")
    return 0


COMMANDS = {"data": cmd_data, "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "calibrate": cmd_calibrate, "robustness": cmd_robustness,
            "summary": cmd_summary, "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()  # predict's latency; see lenet/classroom/tuning.py
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as err:
        parser.error(str(err))  # prints usage and the message, exits 2
    except (CheckpointError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
