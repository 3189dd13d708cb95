"""Lead the class through the pages in AppTest: the teacher's Lead toggle makes the page shown the class's
step; a student's session opens it, in their own language; a plan's Next, a question answered by a
student and refused once revealed; a visitor sees the question and answers nothing; Pause holds a
following student's page; Save keeps the steps shown as a plan of the class."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lenet.classroom.lead import answers, led, right_answer
from lenet.classroom.plans import Plan, Question, Step, generated, save_plan, saved_plans
from lenet.designs import LENET5
from lenet.files import ROOT
from tests.ui.conftest import sign_in, sign_in_page
from ui.lead.panel import LESSONS

pytestmark = pytest.mark.app
KEY = "lead-key"
PLAN = Plan(name="two", title="Two steps", steps=(
    Step(link="/explain?digit=7", line="The walk."),
    Step(link="/explain", line="Work it out.", question=Question(kind="number", ask="size", layer="conv2")),
))


def leading(monkeypatch) -> AppTest:
    """The signed-in teacher on Train with Lead the class on."""
    at = sign_in_page(monkeypatch, KEY)
    sign_in(at, KEY)
    at.toggle(key="lead_on").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def student(lang: str = "en") -> AppTest:
    """A student's first visit, by the class's link (no key): a led class's step opens at once."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def again(at: AppTest, page: str) -> None:
    """Run the session again where its page is now: AppTest's run() sends the page it last asked for,
    where a browser follows the page a step's st.switch_page opened."""
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    kinds = (at.markdown, at.info, at.caption, at.success, at.error, at.title, at.header)
    return " ".join(str(e.value) for kind in kinds for e in kind)


def test_the_page_the_teacher_shows_is_the_step_a_student_opens_in_their_own_language(monkeypatch, runs):
    teacher = leading(monkeypatch)
    assert led(runs).step.link.startswith("/train")
    teacher.switch_page("pages/explain.py").run()
    now = led(runs)
    assert now.serial == 2 and now.step.page == "explain" and "lang" not in now.step.query
    pupil = student("zh")
    assert pupil.session_state["_step_seen"] == now.serial
    assert pupil.title[0].value == "讲解" and "正在跟随投影屏幕" in texts(pupil)  # Explain, in 中文
    assert not pupil.sidebar.get("page_link")  # following: the menu is the teacher's
    assert pupil.session_state["lang"] == "zh"


def test_a_plan_s_question_is_answered_once_per_student_and_closed_by_reveal(monkeypatch, runs):
    save_plan(runs / LESSONS, PLAN)
    teacher = leading(monkeypatch)
    teacher.selectbox(key="lead_plan").set_value("two").run()
    teacher.button(key="lead-next").click().run()
    now = led(runs)
    assert (now.plan, now.index, now.step.question) == ("two", 1, PLAN.steps[1].question)
    pupil = student()
    assert "How wide is conv2's output, in pixels?" in texts(pupil) and "Step 2 of 2" in texts(pupil)
    pupil.number_input(key=f"lead-number-{now.serial}").set_value(12)
    next(b for b in pupil.button if b.label == "Send my answer").click().run()
    pupil.number_input(key=f"lead-number-{now.serial}").set_value(10)
    next(b for b in pupil.button if b.label == "Send my answer").click().run()
    assert list(answers(runs, now.serial).values()) == [10]  # one answer each: the last kept
    again(teacher, "explain")
    teacher.button(key="lead-reveal").click().run()
    assert "The answer: **10**" in texts(teacher)
    again(pupil, "explain")
    assert "The answer: **10**" in texts(pupil) and "You said 10: right!" in texts(pupil)


def test_a_following_page_is_held_while_paused_and_the_steps_shown_are_saved_as_a_plan(monkeypatch, runs):
    teacher = leading(monkeypatch)
    pupil = student()
    teacher.button(key="lead-pause").click().run()
    again(pupil, "train")
    assert "Eyes on the projector" in texts(pupil) and not pupil.title  # the page itself is not drawn
    teacher.button(key="lead-pause").click().run()  # Resume
    again(pupil, "train")
    assert pupil.title and "Eyes on the projector" not in texts(pupil)
    teacher.switch_page("pages/build.py").run()
    teacher.text_input(key="lead-title").input("Today's lesson")
    next(b for b in teacher.button if b.label == "Save the plan").click().run()
    kept = saved_plans(runs / LESSONS)["today-s-lesson"]
    assert [s.page for s in kept.steps] == ["train", "build"] and kept.title == "Today's lesson"


def test_a_student_who_explores_is_not_moved_and_follows_again_at_once(monkeypatch, runs):
    teacher = leading(monkeypatch)
    pupil = student()
    next(b for b in pupil.button if b.label == "Explore on my own").click().run()
    teacher.switch_page("pages/explain.py").run()
    pupil.switch_page("pages/build.py").run()
    assert pupil.title[0].value == "Build" and "You are exploring on your own" in texts(pupil)
    next(b for b in pupil.button if b.label == "Follow again").click().run()
    assert pupil.title[0].value == "Explain" and pupil.session_state["_step_seen"] == led(runs).serial


def test_the_teacher_asks_a_question_the_walk_of_the_page_s_design_answers(monkeypatch, runs):
    teacher = leading(monkeypatch)
    again(teacher, "build")  # LeNet-5 on Build: its walk's questions
    asked = generated(LENET5)
    teacher.selectbox(key="lead-question").set_value(asked.index(Question(kind="number", ask="flatten"))).run()
    teacher.button(key="lead-ask").click().run()
    now = led(runs)
    assert now.step.page == "build" and now.step.question == Question(kind="number", ask="flatten")
    assert right_answer(now.step, None, []) == 400
