"""Steps several browser tests share: a teacher starts a long run, and a student draws with its live
model (a class on one server, and across two replicas)."""
from __future__ import annotations

import numpy as np

from harness.browser import (
    TRAINING_MS,
    WAIT_MS,
    act,
    draw_digit,
    open_page,
    pick_model,
    prediction,
    probabilities,
    settle,
    sign_in,
    visible_text,
)
from tests.browser.conftest import TEACHER_KEY


def teacher_starts_a_long_run(teacher, url: str) -> None:
    open_page(teacher, f"{url}/train", "Train")
    sign_in(teacher, TEACHER_KEY)
    assert TEACHER_KEY not in teacher.url and TEACHER_KEY not in visible_text(teacher)
    starts_a_long_run(teacher)


def starts_a_long_run(teacher) -> None:
    """On Train, signed in: start a run of 100 short epochs, and see its Stop."""
    teacher.get_by_role("spinbutton", name="Epochs", exact=True).fill("100")  # ends when the teacher stops it
    teacher.get_by_role("spinbutton", name="Training images", exact=True).fill("10000")  # short epochs
    act(teacher, lambda: teacher.get_by_role("button", name="Start training").click())
    teacher.locator('[data-testid="stMain"]').get_by_role("button", name="Stop", exact=True).wait_for(timeout=WAIT_MS)


def draws_with_the_live_model(student) -> None:
    """On Draw: once the picker says a model is training and its first epoch is saved (its accuracy
    shown), pick "live", draw a 1, and get the live model's own answer."""
    student.get_by_text("A model is training now: pick live: lenet5 in training ·", exact=False).filter(
        has_text="%").wait_for(timeout=TRAINING_MS)
    settle(student)
    pick_model(student, "live:")
    draw_digit(student, "1", expect=None)
    says_its_own_answer(student)
    assert "live: lenet5 in training" in visible_text(student)


def says_its_own_answer(student) -> None:
    """The Prediction is the argmax of the probabilities shown beside it: the model's own answer
    for the picture drawn, whatever that model has learned so far."""
    bars = probabilities(student)
    assert bars is not None and len(bars) == 10, bars
    assert prediction(student) == str(int(np.argmax(bars))), (prediction(student), bars)
