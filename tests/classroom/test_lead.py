"""A class led from the projector (lenet/classroom/lead.py), on real files in a class's folder:
the step the teacher starts, moves, pauses, reveals and stops, each written and told as news of
the class; the answers kept one per browser and refused with the reason a page shows; the right
answer worked out from the step itself (the design's walk, the shipped model's reading of the
step's digit, the class board); many threads answering and moving at once; a damaged lead.json."""
from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest
import torch

from lenet.checkpoints import load_model
from lenet.classroom import lead
from lenet.classroom.board import Entry
from lenet.classroom.news import NEWS, class_of
from lenet.classroom.plans import Question, Step
from lenet.data import normalise, sample_digits
from lenet.files import CHECKPOINT_DIR, runs_root
from lenet.predict import classify
from tests.conftest import at_once

SIZE = Question(kind="number", ask="size", layer="conv2")
READ = Question(kind="digit", ask="read")
CHOICES = ("c6k5p2-m2-f120-f84", "f84")
BOARD = Question(kind="choice", ask="board", choices=CHOICES)
MAPS = Step(link="/explain?view=maps", line="Each convolution turns one picture into several.")
ASK = Step(link="/explain?view=maps", line="How wide is conv2's output?", question=SIZE)
DIGIT = Step(link="/explain?digit=7", line="What does the model read?", question=READ)


@pytest.fixture
def folder(runs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Class 7b's folder, on a lone server (no store: every lock and news is this process's)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    made = runs_root() / "classes" / "7b"
    made.mkdir(parents=True)
    assert class_of(made) == "7b"
    return made


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return load_model(CHECKPOINT_DIR / "lenet5.pt")[0]


def _bumped(topic: str, change) -> tuple[bool, object]:
    """Whether `change()` bumped class 7b's `topic`, and what it returned."""
    before = NEWS.versions("7b", [topic])[topic]
    result = change()
    return NEWS.versions("7b", [topic])[topic] > before, result


def entry(name: str, design: str, accuracy: float) -> Entry:
    return Entry(name=name, nickname="Nick", design=design, activation="relu", params=1, multiply_adds=1,
                 train_s=1.0, wall_s=1.0, test_accuracy=accuracy, class_accuracy=None, class_count=0)


def test_no_one_leads_until_the_teacher_starts(folder):
    assert lead.led(folder) is None
    told, started = _bumped("step", lambda: lead.start(folder, "teacher", MAPS, plan="maps", index=0, total=3))
    assert told
    assert (started.serial, started.teacher, started.step, started.shown) == (1, "teacher", MAPS, (MAPS,))
    assert (started.plan, started.index, started.total) == ("maps", 0, 3)
    assert not started.paused and not started.revealed
    assert lead.led(folder) == started  # read back from lead.json as it was written
    assert json.loads((folder / lead.LEAD).read_text())["serial"] == 1
    again = lead.start(folder, "teacher2", ASK)  # a new start: a new serial, a new list of shown steps
    assert (again.serial, again.teacher, again.shown, again.plan) == (2, "teacher2", (ASK,), None)


def test_a_move_opens_a_new_step_with_answers_open_and_remembers_it_once(folder):
    assert lead.move(folder, ASK) is None  # no one leads: nothing to move
    assert not (folder / lead.LEAD).exists()
    lead.start(folder, "teacher", MAPS, plan="maps", index=0, total=3)
    lead.pause(folder, True)
    lead.reveal(folder, 10)
    told, moved = _bumped("step", lambda: lead.move(folder, ASK, plan="maps", index=1, total=3))
    assert told and moved.serial == 2 and moved.step == ASK and not moved.revealed and moved.right is None
    assert (moved.plan, moved.index, moved.total, moved.teacher, moved.paused) == ("maps", 1, 3, "teacher", True)
    assert moved.shown == (MAPS, ASK)
    same = lead.move(folder, ASK, plan="maps", index=1, total=3)  # the same step again: a new serial, shown once
    assert same.serial == 3 and same.shown == (MAPS, ASK)
    back = lead.move(folder, MAPS, plan="maps", index=0, total=3)
    assert back.serial == 4 and back.shown == (MAPS, ASK, MAPS)
    assert lead.led(folder) == back


def test_pause_reveal_and_stop_are_written_and_told(folder):
    assert lead.pause(folder, True) is None and lead.reveal(folder) is None  # nothing led
    lead.start(folder, "teacher", ASK)
    told, paused = _bumped("step", lambda: lead.pause(folder, True))
    assert told and paused.paused and lead.led(folder).paused and paused.serial == 1
    told, resumed = _bumped("step", lambda: lead.pause(folder, False))
    assert told and not resumed.paused and not lead.led(folder).paused
    told, revealed = _bumped("step", lambda: lead.reveal(folder, 10))
    assert told and revealed.revealed and lead.led(folder).revealed and revealed.serial == 1
    assert lead.led(folder).right == 10  # worked out once, read back by every screen alike
    told, _ = _bumped("step", lambda: lead.stop(folder))
    assert told and lead.led(folder) is None and not (folder / lead.LEAD).exists()
    assert lead.start(folder, "teacher", ASK).serial == 1  # stopped: the next lead begins again


def test_one_answer_per_browser_and_a_changed_answer_replaces_the_first(folder):
    serial = lead.start(folder, "teacher", ASK).serial
    told, refused = _bumped("answers", lambda: lead.answer(folder, serial, "ann", 12))
    assert told and refused is None
    assert lead.answer(folder, serial, "bob", 10) is None
    assert lead.answer(folder, serial, "cat", 10) is None
    assert lead.answer(folder, serial, "ann", 10) is None  # ann changed her mind
    assert lead.answers(folder, serial) == {"ann": 10, "bob": 10, "cat": 10}
    assert lead.tally(lead.answers(folder, serial)) == {10: 3}
    assert lead.answer(folder, serial, "bob", 14) is None
    assert lead.tally(lead.answers(folder, serial)) == {10: 2, 14: 1}
    moved = lead.move(folder, ASK).serial
    assert lead.answers(folder, moved) == {} and lead.answer(folder, moved, "ann", 5) is None
    assert lead.answers(folder, serial) == {"ann": 10, "bob": 14, "cat": 10}  # the earlier step's are kept apart
    told, count = _bumped("answers", lambda: lead.clear_answers(folder))
    assert told and count == 4
    assert lead.answers(folder, serial) == {} and lead.answers(folder, moved) == {}
    assert not (folder / lead.ANSWERS).exists() and lead.clear_answers(folder) == 0


def _refused(folder: Path, serial: int, value: object) -> str | None:
    found = lead.answer(folder, serial, "ann", value)
    return None if found is None else found.key


def test_an_answer_is_refused_with_the_reason_the_page_shows(folder):
    assert _refused(folder, 1, 3) == "lead.moved_on"  # no one leads
    serial = lead.start(folder, "teacher", MAPS).serial
    assert _refused(folder, serial, 3) == "lead.moved_on"  # the step asks nothing
    serial = lead.move(folder, DIGIT).serial
    assert _refused(folder, serial - 1, 3) == "lead.moved_on"  # a page still on the step before
    assert _refused(folder, serial + 1, 3) == "lead.moved_on"
    for value in (10, -1, True, False, "3", 3.0, None, [3]):
        assert _refused(folder, serial, value) == "lead.not_an_answer", value
    assert _refused(folder, serial, 0) is None and _refused(folder, serial, 9) is None
    serial = lead.move(folder, ASK).serial
    for value in (-1, "12", True, 12.5, lead.MAX_NUMBER + 1):
        assert _refused(folder, serial, value) == "lead.not_an_answer", value
    assert _refused(folder, serial, lead.MAX_NUMBER) is None and _refused(folder, serial, 0) is None
    serial = lead.move(folder, Step(link="/build", question=BOARD)).serial
    for value in ("c6k5p2-m2-f10", "F84", 0, None, ""):
        assert _refused(folder, serial, value) == "lead.not_an_answer", value
    assert _refused(folder, serial, "f84") is None
    lead.reveal(folder)
    assert _refused(folder, serial, CHOICES[0]) == "lead.closed"
    assert lead.answers(folder, serial) == {"ann": "f84"}  # the refused ones were never kept
    told, _ = _bumped("answers", lambda: lead.answer(folder, serial, "bob", "f84"))
    assert not told  # nor told


def test_a_number_s_right_answer_comes_from_the_walk_of_the_step_s_design():
    assert lead.right_answer(MAPS, None, []) is None  # no question, no answer
    assert lead.right_answer(ASK, None, []) == 10  # LeNet-5's conv2: 14 → 10
    flatten = Question(kind="number", ask="flatten")
    assert lead.right_answer(Step(link="/build?design=c6k5p2-m2-f120-f84", question=flatten), None, []) == 1176
    assert lead.right_answer(Step(link="/explain", question=flatten), None, []) == 400  # LeNet-5's 16×5×5
    missing = Question(kind="number", ask="size", layer="conv2")
    assert lead.right_answer(Step(link="/build?design=c6k5p2-m2-f120-f84", question=missing), None, []) is None
    params = Question(kind="number", ask="params", layer="conv1")
    assert lead.right_answer(Step(link="/explain", question=params), None, []) == 6 * 25 + 6


def test_a_digit_s_right_answer_is_what_the_shipped_model_reads(model):
    images, _ = sample_digits()

    def reads(i: int) -> int:
        batch = normalise(torch.from_numpy(images[i:i + 1]))
        found = classify(model, batch).digit
        with torch.no_grad():
            assert found == int(model(batch).argmax(dim=1))  # the model's own argmax
        return found

    assert reads(7) != reads(0)  # so that falling back to digit 0 is seen
    assert lead.right_answer(DIGIT, model, []) == reads(7)
    assert not model.training  # only read
    for hostile in ("999", "x", "-1", "7.0", "", "1e1", "100", "+7"):
        step = Step(link=f"/explain?digit={hostile}", question=READ)
        assert lead.right_answer(step, model, []) == reads(0), hostile
    assert lead.right_answer(Step(link="/explain", question=READ), model, []) == reads(0)
    assert lead.right_answer(Step(link="/explain?digit=99", question=READ), model, []) == reads(99)
    assert lead.right_answer(DIGIT, None, []) is None  # no model: nothing to read it with


def test_a_choice_s_right_answer_is_the_best_of_its_designs_on_the_board():
    step = Step(link="/build", question=BOARD)
    assert lead.right_answer(step, None, []) is None
    off = [entry("e0", "c6k5p2-m2-c16k5-m2-f120-f84", 0.99)]  # the best on the board, but not a choice
    assert lead.right_answer(step, None, off) is None
    board = [*off, entry("e1", "f84", 0.91), entry("e2", CHOICES[0], 0.97), entry("e3", "f84", 0.95)]
    assert lead.right_answer(step, None, board) == CHOICES[0]
    board.append(entry("e4", "f84", 0.98))
    assert lead.right_answer(step, None, board) == "f84"
    most = Step(link="/build", question=Question(kind="choice", ask="params", choices=CHOICES))
    assert lead.right_answer(most, None, []) == CHOICES[0]  # by its walk: 6 convolutions and 1176×120 weights


def test_many_threads_answering_at_once_keep_every_answer_whole(folder):
    serial = lead.start(folder, "teacher", ASK).serial
    ids, torn, reads = itertools.count(), [], []

    def work() -> None:
        thread = next(ids)
        if thread >= 8:  # two readers, reading the file as the eight writers replace it
            for _ in range(200):
                try:
                    text = (folder / lead.ANSWERS).read_text(encoding="utf-8")
                except FileNotFoundError:
                    continue
                try:
                    reads.append(len(json.loads(text).get(str(serial), {})))
                except ValueError:
                    torn.append(text)
            return
        for browser in range(20):
            assert lead.answer(folder, serial, f"t{thread}-b{browser}", (thread + browser) % 10) is None

    before = NEWS.versions("7b", ["answers"])["answers"]
    at_once(work, threads=10)
    assert torn == []
    given = lead.answers(folder, serial)
    assert len(given) == 160 and sum(lead.tally(given).values()) == 160
    assert all(given[f"t{t}-b{b}"] == (t + b) % 10 for t in range(8) for b in range(20))
    assert all(n <= 160 for n in reads)
    assert NEWS.versions("7b", ["answers"])["answers"] > before
    assert lead.clear_answers(folder) == 160


def test_moves_from_many_threads_each_get_a_serial_of_their_own(folder):
    lead.start(folder, "teacher", MAPS)
    lock, serials = threading.Lock(), []

    def work() -> None:
        for _ in range(10):
            moved = lead.move(folder, ASK)  # the same step each time: lead.json keeps its size
            with lock:
                serials.append(moved.serial)

    at_once(work, threads=8)
    assert sorted(serials) == list(range(2, 82))
    now = lead.led(folder)
    assert now.serial == 81 and now.shown == (MAPS, ASK)


@pytest.mark.parametrize("damage", [
    b"\xff\xfe\x00 not even text",
    b"{not json",
    b"[1, 2, 3]",
    b'"a string"',
    b'{"serial": 1}',
    b'{"teacher": "t", "serial": 1, "step": {"link": "/explain", "question": "what?"}}',
    b'{"teacher": "t", "serial": 1, "step": {"link": "/explain"}, "shown": 5}',
    b'{"teacher": "t", "serial": 1, "step": {"link": "/explain"}, "colour": "blue"}',
    b"",
])
def test_a_damaged_lead_is_no_lead(folder, damage):
    (folder / lead.LEAD).write_bytes(damage)
    assert lead.led(folder) is None
    assert _refused(folder, 1, 3) == "lead.moved_on"
    assert lead.move(folder, ASK) is None and lead.reveal(folder) is None
    assert lead.start(folder, "teacher", ASK).serial == 1  # the teacher starts it again, over the damage
    assert lead.led(folder).step == ASK
