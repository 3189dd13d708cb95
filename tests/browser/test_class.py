"""A class in real browsers, on a server with a teacher key: students watch and draw with the live
model while the teacher trains, and the class's own drawings fine-tune the model."""
import json
import zipfile
from pathlib import Path

import numpy as np

from harness.browser import (
    TRAINING_MS,
    WAIT_MS,
    act,
    canvas_picture,
    clear,
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
from harness.synth import SIZES, STROKES, render
from lenet.checkpoints import load_model
from lenet.classroom import collection
from lenet.classroom.runs import saved_runs
from lenet.data import load_mnist, pixels
from lenet.predict import classify
from lenet.preprocess import to_mnist
from tests.browser.conftest import TEACHER_KEY
from tests.browser.steps import draws_with_the_live_model, says_its_own_answer, teacher_starts_a_long_run


def test_a_class_the_teacher_trains_while_students_draw(class_server, new_page):
    """Two students can't start or stop the run; they draw with the live model while it trains (its
    answer checked against its own probabilities, never against the digit drawn: it may not have
    learned it yet); when the teacher stops it, they are moved to the saved run, and its answer
    for each student's picture is that checkpoint's own."""
    url, runs = class_server
    teacher, *students = [new_page(1280, 720) for _ in range(3)]  # the projector and two students
    for student in students:  # on Draw before the run starts
        open_page(student, f"{url}/train", "Train")
        assert student.get_by_role("button", name="Start training").count() == 0
        student.get_by_text("The teacher controls training", exact=False).wait_for(timeout=WAIT_MS)
        go(student, "Draw")
    teacher_starts_a_long_run(teacher, url)
    for student in students:
        draws_with_the_live_model(student)
    watcher = students[0]
    go(watcher, "Train")
    watcher.get_by_text("Only the teacher can stop this run.").wait_for(timeout=WAIT_MS)
    assert watcher.locator('[data-testid="stMain"]').get_by_role("button", name="Stop").count() == 0
    go(watcher, "Draw")
    act(teacher, lambda: teacher.locator('[data-testid="stMain"]').get_by_role("button", name="Stop").click())
    teacher.get_by_text("Stopped; epoch", exact=False).first.wait_for(timeout=WAIT_MS)
    shot(teacher, "train-class-teacher", full=True)
    saved = saved_runs(runs)[0]  # the newest: this run
    model, _ = load_model(saved)
    for student in students:  # the run ended: "live" became the saved run, with no error
        wait_for_picked(student, f"run {saved.stem}")
        settle(student)
        clear(student)
        draw_digit(student, "7", expect=None)
        says_its_own_answer(student)
        assert prediction(student) == str(classify(model, canvas_picture(student)).digit)
    shot(students[1], "draw-class-student", full=True)


def class_drawings(folder: Path, count: int) -> None:
    """`count` drawings in the class collection as students would have saved them: MNIST training
    digits redrawn on the app's canvas (harness/synth.py), read by to_mnist, labelled right."""
    train = load_mnist().train
    rng = np.random.default_rng(1)
    picks = rng.choice(len(train), count, replace=False)
    kinds = [(s, z) for s in STROKES for z in SIZES]
    for j, (index, digit) in enumerate(zip(picks.tolist(), pixels(train.x[picks]), strict=True)):
        label = int(train.y[index])
        drawing = render(digit, label, index, rng, "canvas", *kinds[j % len(kinds)])
        collection.save(folder, to_mnist(drawing.image).centred, label, canvas=drawing.image)


def student_confirms_and_corrects(student, url: str, folder: Path) -> None:
    open_page(student, f"{url}/class", "Class")
    student.get_by_text("sign in with the teacher key").wait_for(timeout=WAIT_MS)
    assert student.get_by_text("Drawings", exact=True).count() == 0
    go(student, "Draw")
    draw_digit(student, "7")
    act(student, lambda: student.get_by_role("button", name="Yes, it's 7").click())
    student.get_by_text("Thank you: saved").wait_for(timeout=WAIT_MS)
    clear(student)
    draw_digit(student, "1")
    digits = student.locator('[data-testid="stButtonGroup"]').get_by_role("radio")
    digits.last.wait_for(timeout=WAIT_MS)  # the question is drawn just after the Prediction, in the same run
    assert digits.all_inner_texts() == [str(d) for d in range(10)]
    group = student.locator('[data-testid="stButtonGroup"] [role="radiogroup"]').bounding_box()
    for d in (0, 9):  # all ten in view: none scrolled out of its row
        box = digits.nth(d).bounding_box()
        assert group["x"] <= box["x"] and box["x"] + box["width"] <= group["x"] + group["width"], (d, box)
    act(student, lambda: digits.get_by_text("4", exact=True).click())
    student.get_by_text("Thank you: saved").wait_for(timeout=WAIT_MS)  # said: it is a 4, whatever the model read
    records = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    labels = sorted(r["label"] for r in records)
    assert len(labels) == 42 and labels.count(4) >= 1 and labels.count(7) >= 1
    assert all(set(r) == {"label", "predicted", "model", "saved"} for r in records)  # no name, no address
    assert {p.suffix for p in folder.iterdir() if p.name != ".saved"} == {".png", ".json"}


def test_the_class_collects_its_drawings_and_fine_tunes_the_model(class_server, new_page):
    """A student confirms one answer and corrects another on Draw; the teacher's Class page shows
    them among the class's drawings, live; fine-tuning the shipped lenet5's classifier on them
    reports before and after; the export is a zip of PNGs and labels.csv."""
    url, runs = class_server
    folder = runs / "class"
    class_drawings(folder, 40)
    teacher, student = new_page(accept_downloads=True), new_page()
    student_confirms_and_corrects(student, url, folder)
    open_page(teacher, f"{url}/train", "Train")
    sign_in(teacher, TEACHER_KEY)
    go(teacher, "Class")  # a new session reads with the shipped lenet5
    metric = teacher.locator('[data-testid="stMetric"]').filter(has_text="Drawings")
    metric.wait_for(timeout=WAIT_MS)
    assert metric.locator('[data-testid="stMetricValue"]').inner_text().strip() == "42"
    teacher.get_by_text("drawn 4 · read 1 ✗").wait_for(timeout=WAIT_MS)  # the correction, newest first
    teacher.get_by_text("drawn 7 · read 7 ✓").first.wait_for(timeout=WAIT_MS)
    assert teacher.get_by_text("Confusion on our handwriting (42 drawings)").count() == 1
    with teacher.expect_download() as download:
        teacher.get_by_role("button", name="Download the 42 drawings").click()
    with zipfile.ZipFile(download.value.path()) as zipped:
        names = zipped.namelist()
        assert "labels.csv" in names and sum(n.endswith(".png") for n in names) >= 42
    act(teacher, lambda: teacher.get_by_text("the classifier only").click())
    act(teacher, lambda: teacher.get_by_role("button", name="Fine-tune lenet5").click())
    teacher.get_by_text("Fine-tuning started").wait_for(timeout=WAIT_MS)
    go(teacher, "Train")
    teacher.get_by_text("Finished; saved as", exact=False).first.wait_for(timeout=TRAINING_MS)
    go(teacher, "Class")
    report = teacher.locator('[data-testid="stTable"]')
    report.wait_for(timeout=WAIT_MS)
    table = report.inner_text()
    assert "MNIST test set (10,000)" in table and "our held-out drawings" in table, table
    mnist_after = float(table.split("MNIST test set (10,000)")[1].split("%")[1].split()[-1])
    assert mnist_after >= 99.0, table
    shot(teacher, "class", full=True)
    act(teacher, lambda: teacher.locator('[data-testid="stSidebar"]').get_by_text("中文", exact=True).click())
    teacher.get_by_role("heading", name="课堂", exact=True).wait_for(timeout=WAIT_MS)
    assert "⟦" not in visible_text(teacher) and "微调前" in visible_text(teacher)
    shot(teacher, "zh-class", full=True)
