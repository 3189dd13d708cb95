"""Does it know it doesn't know? The digit-like flag under every prediction, and Explain's
"Not a digit?" lesson: noise, scribbles, letters and digits, how sure the model is of each, and
which ones the flag catches. The score itself is lenet/inside/ood.py's."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch
from torch import nn

from lenet.checkpoints import CheckpointError, load_checkpoint
from lenet.classroom.jobqueue import current_job
from lenet.classroom.serving import mnist, pages_first
from lenet.data import mnist_here, normalise, pixels, sample_digits
from lenet.inside import nondigits
from lenet.inside.ood import (
    Calibration,
    Verdict,
    calibrate,
    calibration_for,
    held_out,
    judge,
    of_checkpoint,
    read_and_judge,
)
from lenet.predict import Prediction, classify
from lenet.preprocess import Preprocessed
from ui.common.i18n import Text
from ui.common.images import tile
from ui.common.picker import Choice, saved_as

LIVE_DIGITS = 2000  # a live model is calibrated on fewer digits (0.2 s, not 0.9 s): its weights keep changing
LIVE_TTL_S = 15.0  # and anew at most this often, so students drawing with it don't each wait for it


@st.cache_resource(show_spinner=False, max_entries=16)
def _saved(path: str, mtime: float, _model: nn.Module) -> Calibration | None:
    """A saved model's calibration, once per checkpoint file (shared by every session; read-only):
    the one saved in it; for a checkpoint saved without one, made from MNIST if it is here; else None."""
    try:
        cal = of_checkpoint(load_checkpoint(path))
    except CheckpointError:
        cal = None
    return cal if cal is not None or not mnist_here() else calibration_for(_model, mnist())


@st.cache_resource(show_spinner=False, max_entries=2, ttl=LIVE_TTL_S)
def _live(run: str, _model: nn.Module) -> Calibration | None:
    if not mnist_here():
        return None
    data = mnist()
    return calibrate(_model, data.train.head(LIVE_DIGITS), held_out(data)[0].head(LIVE_DIGITS))


def calibration(model: nn.Module, choice: Choice) -> Calibration | None:
    saved = saved_as(choice)
    if saved is not None:
        return _saved(*saved, model)
    job = current_job()
    return _live(job.state.name if job is not None else "", model)  # keyed by the run: a new run, a new model


def warm(model: nn.Module, choice: Choice) -> None:
    """Read a saved model's calibration before the canvas shows (from the checkpoint: milliseconds;
    made from MNIST for one saved without it: about 0.9 s for lenet5 with MNIST in memory, once per
    checkpoint per server). A stroke drawn while the page was still warming this was lost at
    95003f1. Not the live model: it changes as it trains."""
    saved = saved_as(choice)
    if saved is not None:
        with pages_first():
            _saved(*saved, model)


def read(model: nn.Module, choice: Choice, drawing: Preprocessed) -> tuple[Prediction, Verdict | None]:
    """The picked model's answer for a drawing and its flag, from one pass through the model; the
    flag is None when the model has no calibration and MNIST isn't here to make one."""
    with pages_first():
        cal = calibration(model, choice)
        return read_and_judge(cal, model, drawing) if cal is not None else (classify(model, drawing), None)


def say_verdict(t: Text, v: Verdict | None, digit: int) -> None:
    """A plain warning when the input doesn't look like a digit; a quiet caption when it does."""
    if v is None:
        st.caption(t("doubt.no_check"))
    elif v.digit_like:
        st.caption(t("doubt.looks_like", score=v.score))
    else:
        st.warning(t("doubt.not_a_digit", digit=digit, score=v.score), icon=":material/help:")


@st.cache_data(show_spinner=False)
def lesson_inputs() -> list[tuple[str, np.ndarray]]:
    """The lesson's fixed inputs, (kind, uint8 (28, 28)): two MNIST digits, two noise images, two
    random scribbles, and four letters in two fonts. The same on every machine."""
    digits = sample_digits()[0]
    letters = [*nondigits.letters("aileron", "AK"), *nondigits.letters("dejavu-serif", "Sx")]
    return ([("digit", digits[0]), ("digit", digits[1])] + [("noise", im) for im in nondigits.noise(2)]
            + [("scribble", im) for im in nondigits.strokes(2)] + [("letter", im) for im in letters])


def doubt_view(t: Text, model: nn.Module, choice: Choice, x: torch.Tensor) -> None:
    """The lesson: the input on Explain first, then each fixed input, its answer, and the flag."""
    inputs = [("yours", None), *lesson_inputs()]
    with pages_first():
        cal = calibration(model, choice)
    if cal is None:
        st.info(t("data.needed"))
        return
    with pages_first():
        images = [np.asarray(im) for _, im in inputs[1:]]
        batch = torch.cat([x.reshape(1, 1, 28, 28).cpu(), normalise(torch.from_numpy(np.stack(images)))])
        verdicts = judge(cal, model, batch)
        readings = [classify(model, row) for row in batch]
    st.caption(t("doubt.lesson_caption"))
    shown = [tile(pixels(x.cpu())[0], 112), *(tile(im, 112) for im in images)]
    for row in range(0, len(inputs), 6):
        for column, i in zip(st.columns(6), range(row, min(row + 6, len(inputs))), strict=False):
            column.image(shown[i], width=112, caption=t("doubt.kind." + inputs[i][0]))
            mark = t("doubt.passes") if verdicts[i].digit_like else t("doubt.caught")
            column.markdown(f"**{readings[i].digit}** · {readings[i].confidence:.0%}  \n{mark}")
    st.caption(t("doubt.lesson_footer", threshold=cal.threshold))

