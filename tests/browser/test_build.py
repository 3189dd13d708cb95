"""A class builds its own networks, in real browsers: the teacher sets the budget, three students
each build a design (and meet the reason an impossible one can't be), try it, watch their own
run, and land on the leaderboard with both scores; one draws with another's design."""
from __future__ import annotations

import pytest

from harness.browser import (
    TRAINING_MS,
    WAIT_MS,
    act,
    canvas_picture,
    draw_digit,
    go,
    open_page,
    prediction,
    settle,
    shot,
    sign_in,
    visible_text,
    wait_for_picked,
)
from harness.servers import app_server
from lenet.checkpoints import load_model
from lenet.classroom import collection
from lenet.classroom.board import read_board, read_budget
from lenet.data import sample_digits
from lenet.designs import PRESETS, check
from lenet.predict import classify
from tests.browser.conftest import TEACHER_KEY

TYPED = "c8k5-m2-f64"  # the second student's design, typed
IMPOSSIBLE = "c6k9-m4-c6k9"  # 28→20→5, then a 9×9 window: no output
THIRD = "c4k3p1-a2-c8k3-m2-f32"  # the third student's, after the impossible one
GIANT = "c128k3p1-c128k3p1-c128k3p1-f512-f512-f512"  # 52M parameters: the grammar allows it, the budget doesn't


@pytest.fixture(scope="module")
def designs_server(tmp_path_factory, timings):
    """A class server of its own (a teacher key, an empty board) with 20 confirmed class drawings."""
    runs = tmp_path_factory.mktemp("design-runs")
    images, labels = sample_digits()
    for i in range(20):
        collection.save(runs / "class", images[i], int(labels[i]))
    with app_server(runs, env={"LENET_TEACHER_KEY": TEACHER_KEY}) as started:
        yield started.url, runs


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def wait_for_metric(page, label: str, value: str) -> None:
    page.wait_for_function("""([label, value]) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.includes(label)
                   && m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === value)""",
                           arg=[label, value], timeout=WAIT_MS)


def open_menu(page, label: str) -> None:
    """Scroll to a menu on the page, as a person does, then open it. (Clicking one below the fold
    at once scrolls the page under the opening list, which closes it again.)"""
    menu = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(has_text=label).first
    menu.scroll_into_view_if_needed()
    menu.get_by_role("combobox").click()


def type_design(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Or type a design")
    box.fill(text)
    act(page, lambda: box.press("Enter"))


def teacher_sets_the_budget(teacher, url: str) -> None:
    open_page(teacher, f"{url}/train", "Train")
    sign_in(teacher, TEACHER_KEY)
    go(teacher, "Build")
    teacher.get_by_text("Teacher: the class budget and the board").click()
    teacher.get_by_role("spinbutton", name="Training images").fill("1000")
    teacher.get_by_role("spinbutton", name="Epochs").fill("1")
    act(teacher, lambda: teacher.get_by_role("button", name="Save the budget").click())


def nickname(page) -> str:
    return page.get_by_role("textbox", name="Your nickname on the board").input_value()


def test_a_class_builds_tries_and_ranks_its_designs(designs_server, new_page):
    url, runs = designs_server
    teacher, *students = [new_page(1280, 900) for _ in range(4)]
    teacher_sets_the_budget(teacher, url)
    assert (read_budget(runs / "board").images, read_budget(runs / "board").epochs) == (1000, 1)
    for student in students:
        open_page(student, f"{url}/build", "Build")
        budget_line = student.get_by_text("the first 1,000 MNIST training images, epochs: 1, seed: 0", exact=False)
        budget_line.wait_for(timeout=WAIT_MS)
        assert metric(student, "Parameters") == "61,706"  # LeNet-5, where every student starts
    first, second, third = students
    # 1: a preset, then one menu changed: the walk and the count follow every change
    open_menu(first, "Start from")
    act(first, lambda: first.get_by_role("option", name="Exercise: 3×3 windows").click())
    wait_for_metric(first, "Parameters", f"{check(PRESETS['kernel3'][0]).params:,}")
    # 2: typed; the walk shows each layer's output shape
    type_design(second, TYPED)
    wait_for_metric(second, "Parameters", f"{check(TYPED).params:,}")
    assert "8 × 12 × 12" in visible_text(second) and "Multiply-adds" in visible_text(second)
    # 3: an impossible design says why, and can't be tried; then a possible one
    type_design(third, IMPOSSIBLE)
    third.get_by_text("window is larger than its", exact=False).wait_for(timeout=WAIT_MS)
    assert third.get_by_role("button", name="Try it").is_disabled()
    # and one over the class budget (failed at 95003f1: offered Try it, it trained for minutes on 3 GB)
    type_design(third, GIANT)
    third.get_by_text("parameters, more than the 1,000,000 allowed", exact=False).wait_for(timeout=WAIT_MS)
    wait_for_metric(third, "Parameters", f"{check(GIANT).params:,}")  # the whole walk is still shown
    assert third.get_by_role("button", name="Try it").is_disabled()
    type_design(third, THIRD)
    wait_for_metric(third, "Parameters", f"{check(THIRD).params:,}")
    names = [nickname(s) for s in students]
    for student in students:
        act(student, lambda s=student: s.get_by_role("button", name="Try it").click())
    for student in students:  # each sees their own run through to the end, its curve drawn
        student.get_by_text("Finished:", exact=False).wait_for(timeout=TRAINING_MS)
        settle(student)
        student.locator('[data-testid="stPlotlyChart"]').nth(2).wait_for(timeout=WAIT_MS)  # accuracy, loss, scatter
    board = {e.nickname: e for e in read_board(runs / "board")}
    assert set(board) == set(names)
    for name, student in zip(names, students, strict=True):  # both scores on every student's board
        entry = board[name]
        assert entry.class_count == 20 and entry.class_accuracy is not None
        row = student.locator('[data-testid="stTable"] tr').filter(has_text=name).first
        row.wait_for(timeout=WAIT_MS)
        cells = row.inner_text()
        assert f"{entry.test_accuracy:.2%}" in cells and f"{entry.class_accuracy:.1%} (20)" in cells, cells
        assert f"{entry.params:,}" in cells and "(you)" in cells
    # the first student draws with the second's design
    label = f"{names[1]} · {TYPED}"
    first.locator('[data-testid="stTable"] tr').filter(has_text=names[1]).wait_for(timeout=WAIT_MS)  # its board
    first.locator('[data-testid="stTable"] tr').filter(has_text=names[2]).wait_for(timeout=WAIT_MS)
    first.get_by_role("heading", name="Leaderboard").scroll_into_view_if_needed()
    shot(first, "build-board")
    open_menu(first, "Draw and explain with a design from the board")
    act(first, lambda: first.get_by_role("option").filter(has_text=label).first.click())
    act(first, lambda: first.get_by_role("button", name="Use it").click())
    wait_for_picked(first, f"board: {label}")
    go(first, "Draw")
    draw_digit(first, "7", expect=None)
    model, _ = load_model(board[names[1]].checkpoint(runs / "board"))
    assert prediction(first) == str(classify(model, canvas_picture(first)).digit)
