"""Lesson plans (lenet/classroom/plans.py): the ready plans in docs/lessons/ read, their links read as
lessons and open a known page, each ready lesson of docs/teaching.md starts exactly one plan, and
their questions have answers; the walk's answers for LeNet-5 and a design without conv2; the
questions a design's walk generates; read_plan refusing what isn't a plan, and saying which step;
plan_text read back as the same plan; saving, listing and naming a teacher's plans."""
from __future__ import annotations

import re

import pytest

from lenet.classroom import plans
from lenet.classroom.plans import (
    MAX_STEPS,
    PAGES,
    Plan,
    PlanError,
    Question,
    Step,
    generated,
    plan_name,
    plan_text,
    read_plan,
    ready_plans,
    save_plan,
    saved_plans,
    walk_answer,
)
from lenet.designs import LENET5
from lenet.files import ROOT
from lenet.messages import message_of
from ui.common.links import read

CHECKPOINTS = ["lenet5", "lenet5-classic", "mlp"]
HOST = "http://localhost:8501"
GOOD_STEP = '[[step]]\nlink = "/explain?view=maps"\nline = "Each convolution turns one picture into several."\n'


def ready_links() -> list[str]:
    """The ready lessons' links in docs/teaching.md, without the host: the list after "**Ready lessons.**"."""
    guide = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    ready = guide.split("**Ready lessons.**", 1)[1].split("\n## ", 1)[0]
    return [link.removeprefix(HOST) for link in re.findall(rf"<({re.escape(HOST)}/[^>]*)>", ready)]


def refusal(text: str) -> PlanError:
    with pytest.raises(PlanError) as caught:
        read_plan(text, "bad")
    return caught.value


# the ready plans


def test_every_ready_plan_reads():
    files = sorted((ROOT / "docs" / "lessons").glob("*.toml"))
    found = ready_plans()
    assert len(found) == len(files) == 10
    assert sorted(found) == sorted(f.stem for f in files)
    for name, plan in found.items():
        assert plan.name == name and plan.title and plan.title != name
        assert 2 <= len(plan.steps) <= 5, name
        assert all(step.line for step in plan.steps), name


def test_every_step_of_a_ready_plan_is_a_lesson_link_to_a_known_page():
    for name, plan in ready_plans().items():
        for number, step in enumerate(plan.steps, 1):
            assert step.page in PAGES, (name, number, step.link)
            lesson = read(step.query, CHECKPOINTS)
            assert lesson.problems == (), (name, number, lesson.problems)


def test_every_ready_lesson_of_the_teaching_guide_starts_exactly_one_plan():
    links = ready_links()
    assert len(links) == 10 and len(set(links)) == 10
    firsts = [plan.steps[0].link for plan in ready_plans().values()]
    for link in links:
        assert link.startswith("/")
        assert firsts.count(link) == 1, link
    assert sorted(firsts) == sorted(links)


def test_every_question_of_a_ready_plan_has_an_answer():
    asked = 0
    for name, plan in ready_plans().items():
        for step in plan.steps:
            question = step.question
            if question is None:
                continue
            asked += 1
            if question.kind == "number" or question.ask == "params":
                assert walk_answer(question, step.query.get("design")) is not None, (name, question)
            if question.kind == "digit":  # the model reads the step's own digit
                assert step.page == "explain" and "digit" in step.query, name
    assert asked >= 5


# the walk's answers


def number(ask: str, layer: str | None = None) -> Question:
    return Question(kind="number", ask=ask, layer=layer)


def test_the_walk_answers_lenet5s_sizes_and_parameters():
    assert walk_answer(number("size", "conv1"), None) == 28
    assert walk_answer(number("size", "conv2"), None) == 10
    assert walk_answer(number("size", "pool2"), None) == 5
    assert walk_answer(number("flatten"), None) == 400
    assert walk_answer(number("params", "conv2"), None) == 2416
    assert walk_answer(number("params", "fc1"), None) == 48120
    assert walk_answer(number("params", "fc1"), LENET5) == 48120  # no design is LeNet-5's


def test_the_walk_answers_for_the_steps_own_design():
    no_conv2 = "c6k5p2-m2-f120-f84"
    assert walk_answer(number("flatten"), no_conv2) == 1176
    assert walk_answer(number("params", "fc1"), no_conv2) == 1176 * 120 + 120
    assert walk_answer(number("size", "conv2"), no_conv2) is None  # not in the design
    assert walk_answer(number("params", "conv3"), None) is None
    assert walk_answer(number("size", "nowhere"), None) is None


def test_a_choice_by_parameters_picks_the_design_with_most():
    lenet, mlp, no_conv2 = LENET5, "f250-f200", "c6k5p2-m2-f120-f84"
    assert walk_answer(Question(kind="choice", ask="params", choices=(lenet, mlp)), None) == mlp
    assert walk_answer(Question(kind="choice", ask="params", choices=(no_conv2, lenet)), None) == no_conv2
    kernels = ("c16k3-m2-c16k3-m2-f120-f84", lenet, "c3k7p3-m2-c16k7p1-m2-f120-f84")  # 61,614, 61,706, 61,652
    assert walk_answer(Question(kind="choice", ask="params", choices=kernels), None) == lenet


def test_a_design_generates_its_walks_questions():
    questions = generated(None)
    asked = {(q.ask, q.layer) for q in questions}
    assert ("flatten", None) in asked
    for layer in ("conv1", "pool1", "conv2", "pool2"):
        assert ("size", layer) in asked
    for layer in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        assert ("params", layer) in asked
    assert ("params", "pool1") not in asked and ("size", "fc1") not in asked
    assert len(questions) == len(set(questions))
    for design in (None, "c6k5p2-m2-f120-f84", "c16k3-m2-c16k3-m2-f120-f84"):
        for question in generated(design):
            assert question.kind == "number"
            assert walk_answer(question, design) is not None, (design, question)
    assert ("size", "conv2") not in {(q.ask, q.layer) for q in generated("c6k5p2-m2-f120-f84")}


# what read_plan refuses


def test_read_plan_refuses_what_is_not_a_plan():
    assert message_of(refusal("title = \n[[step]")).key == "plan.toml"
    assert message_of(refusal('title = "No steps"')).key == "plan.steps"
    assert message_of(refusal('title = "Empty"\nstep = []')).key == "plan.steps"
    assert message_of(refusal('[step]\nlink = "/train"')).key == "plan.steps"  # a table, not [[step]]
    too_many = 'title = "A course"\n' + GOOD_STEP * (MAX_STEPS + 1)
    assert message_of(refusal(too_many)).key == "plan.steps"
    assert len(read_plan('title = "Long"\n' + GOOD_STEP * MAX_STEPS, "long").steps) == MAX_STEPS
    assert message_of(refusal('title = 3\n' + GOOD_STEP)).key == "plan.title"


@pytest.mark.parametrize(("bad", "key"), [
    ('line = "No link."', "plan.step"),
    ('link = 7', "plan.step"),
    ('link = "/train"\nline = 7', "plan.step"),
    ('link = "/nowhere?view=maps"', "plan.link"),
    ('link = "train?lr=1"', "plan.link"),
    ('link = "http://localhost:8501/train"', "plan.link"),
    ('link = "/train"\nquestion = { kind = "essay", ask = "read" }', "plan.question"),
    ('link = "/train"\nquestion = { kind = "number", ask = "read" }', "plan.question"),
    ('link = "/train"\nquestion = { kind = ["number"], ask = "size" }', "plan.question"),
    ('link = "/train"\nquestion = "How wide?"', "plan.question"),
    ('link = "/explain"\nquestion = { kind = "number", ask = "size" }', "plan.layer"),
    ('link = "/explain"\nquestion = { kind = "number", ask = "params", layer = "" }', "plan.layer"),
    ('link = "/build"\nquestion = { kind = "choice", ask = "params", choices = ["f120-f84"] }', "plan.choices"),
    ('link = "/build"\nquestion = { kind = "choice", ask = "board", choices = ["f120", "c6k99"] }', "plan.choices"),
    ('link = "/build"\nquestion = { kind = "choice", ask = "board" }', "plan.choices"),
    ('link = "/build"\nquestion = { kind = "choice", ask = "params", choices = "f120" }', "plan.choices"),
])
def test_read_plan_says_which_step_is_wrong(bad: str, key: str):
    error = refusal(f'title = "One bad step"\n{GOOD_STEP}\n[[step]]\n{bad}\n')
    assert message_of(error).key == key
    assert "step 2" in str(error)


def test_read_plan_takes_what_a_question_needs_and_no_more():
    text = ('[[step]]\nlink = "/explain?digit=7"\nquestion = { kind = "digit", ask = "read" }\n'
            '[[step]]\nlink = "/build"\nquestion = { kind = "choice", ask = "params", choices = ["f120", "f84"] }\n'
            '[[step]]\nlink = "/explain"\nquestion = { kind = "number", ask = "flatten", choices = 5 }\n'
            '[[step]]\nlink = "/"\nline = "  Welcome.  "\n')
    plan = read_plan(text, "fine")
    assert plan.title == "fine"  # no title: its name
    assert [s.question for s in plan.steps] == [
        Question(kind="digit", ask="read"), Question(kind="choice", ask="params", choices=("f120", "f84")),
        Question(kind="number", ask="flatten"), None]
    assert plan.steps[3].page == "home" and plan.steps[3].line == "Welcome."


# plan_text, saving and names


def a_plan(name: str = "convolution") -> Plan:
    return Plan(name=name, title='What a "convolution" does', steps=(
        Step(link="/explain?view=maps&digit=7", line="Each convolution turns one picture into several."),
        Step(link="/explain?view=maps&lang=zh", line="conv2 的输出有多宽？\n说 \"几\" 个数。",
             question=Question(kind="number", ask="size", layer="conv2")),
        Step(link="/build?design=c6k5p2-m2-c16k5-m2-f120-f84", line="Which has more parameters?",
             question=Question(kind="choice", ask="params", choices=(LENET5, "f250-f200"))),
    ))


def test_plan_text_reads_back_as_the_same_plan():
    plan = a_plan()
    assert read_plan(plan_text(plan), plan.name) == plan
    for name, ready in ready_plans().items():
        assert read_plan(plan_text(ready), name) == ready


def test_a_saved_plan_is_listed(tmp_path):
    folder = tmp_path / "lessons"
    assert saved_plans(folder) == {}
    path = save_plan(folder, a_plan())
    assert path == folder / "convolution.toml" and path.is_file()
    save_plan(folder, a_plan("another-one"))
    assert saved_plans(folder) == {"another-one": a_plan("another-one"), "convolution": a_plan()}
    (folder / "broken.toml").write_text("not = [toml", encoding="utf-8")  # one that doesn't read is left out
    assert sorted(saved_plans(folder)) == ["another-one", "convolution"]
    assert sorted(p.name for p in folder.iterdir()) == ["another-one.toml", "broken.toml", "convolution.toml"]


@pytest.mark.parametrize("name", ["../x", "Has Caps", "", "-dash", "a/b", "x" * 41, "中文"])
def test_a_bad_name_is_refused_and_nothing_written(tmp_path, name: str):
    folder = tmp_path / "lessons"
    with pytest.raises(PlanError) as caught:
        save_plan(folder, a_plan(name))
    assert message_of(caught.value).key == "plan.name"
    assert list(tmp_path.rglob("*")) == []


def test_a_plan_that_does_not_read_is_not_saved(tmp_path):
    plan = Plan(name="nowhere", title="Nowhere", steps=(Step(link="/nowhere", line="Off the map."),))
    with pytest.raises(PlanError):
        save_plan(tmp_path, plan)
    assert list(tmp_path.iterdir()) == []


def test_plan_name_is_a_file_name():
    assert plan_name("Sigmoid against ReLU!") == "sigmoid-against-relu"
    assert plan_name("中文") == "lesson"
    assert plan_name("") == "lesson"
    assert plan_name("LeNet-5: 1,176 numbers") == "lenet-5-1-176-numbers"
    assert plan_name("a " * 40) == ("a-" * 20).rstrip("-")
    long = plan_name("x" * 100)
    assert long == "x" * 40 and plans.NAME.fullmatch(long)


def test_the_docstrings_example_reads():
    example = plans.__doc__.split(":\n\n", 1)[1].split("\n\nThe ready plans", 1)[0]
    plan = read_plan("\n".join(line.removeprefix("    ") for line in example.splitlines()), "example")
    assert plan.title == "What a convolution does to a digit"
    assert walk_answer(plan.steps[1].question, plan.steps[1].query.get("design")) == 10
    assert plan.steps[0].page == "explain" and plan.steps[0].query == {"view": "maps"}
