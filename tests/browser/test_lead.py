"""Lead the class, in real Chromium: a teacher leads three students through a 4-step plan (Explain's
walk, a shape question, Draw with a chosen digit, Build with a design). Every following screen opens
each step by a push; two students answer, one changes their mind, and the projector's histogram counts
exactly those answers; Reveal shows the walk's own number; a student who explores stops following and
rejoins; Pause holds every following screen on its card."""
from __future__ import annotations

import time

import pytest

from deploy.replicas import behind_nginx, free_ports, nginx_path, replicas_by_key
from harness.browser import WAIT_MS, act, open_page, settle, shot, sign_in, visible_text
from harness.servers import app_server
from lenet.classroom.plans import Plan, Question, Step, save_plan, walk_answer
from tests.browser.conftest import TEACHER_KEY
from tests.browser.steps import starts_a_long_run
from tests.browser.test_replicas import on, sticky_keys

DESIGN = "c6k3p1-m2-c16k3-m2-f120-f84"
PLAN = Plan(name="four-steps", title="Four steps", steps=(
    Step(link="/explain", line="Follow the shapes down the network."),
    Step(link="/explain", line="Work it out with the formula.",
         question=Question(kind="number", ask="size", layer="conv2")),
    Step(link="/draw?digit=3", line="Everyone draws a 3."),
    Step(link=f"/build?design={DESIGN}", line="Smaller windows: what changes?"),
))
ANSWERS_PLOT = """() => { const p = [...document.querySelectorAll('.js-plotly-plot')]
    .find(p => p.layout && p.layout.title && String(p.layout.title.text).includes('Answers: '));
    return p ? {x: [...p.data[0].x], y: [...p.data[0].y], title: p.layout.title.text} : null; }"""


@pytest.fixture(scope="module")
def lead_server(tmp_path_factory, timings):
    """A class server of its own (a teacher key), with the plan in its lessons."""
    runs = tmp_path_factory.mktemp("lead-runs")
    save_plan(runs / "lessons", PLAN)
    with app_server(runs, env={"LENET_TEACHER_KEY": TEACHER_KEY}) as started:
        yield started.url


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


ZH = {"Step {n} of 4": "第 {n} 步，共 4 步", "Explain": "讲解", "Draw": "画数字", "Build": "搭建",
      "Today's lesson: draw a 3.": "今天的练习：画一个 3。", "Explore on my own": "自己探索",
      "Follow again": "重新跟随", "You are exploring on your own": "你正在自己探索",
      "Eyes on the projector": "请看投影屏幕",
      "The answer: 10": "答案：10", "How wide is conv2's output, in pixels?": "conv2 的输出有多宽（像素）？"}


def said(student, english: str) -> str:
    """A text as this student's page says it: the third student reads 中文 (their link's lang=zh)."""
    return ZH[english] if "lang=zh" in student.url else english


def on_step(student, number: int, heading: str) -> None:
    """The student's page shows step `number` of the plan, on its page, in the student's own language."""
    student.get_by_text(said(student, "Step {n} of 4").format(n=number), exact=False).first.wait_for(timeout=WAIT_MS)
    student.get_by_role("heading", name=said(student, heading), exact=True).wait_for(timeout=WAIT_MS)
    settle(student)


def pick_plan(teacher) -> None:
    """Choose the plan under Lesson plan, typed to filter the list: it is one of a dozen, and a short
    window's list shows only some of its options."""
    sidebar(teacher).locator('[data-testid="stSelectbox"]').filter(has_text="Lesson plan").click()
    teacher.keyboard.type(PLAN.title)
    act(teacher, lambda: teacher.get_by_role("option", name=PLAN.title).click())


def press(teacher, name: str) -> float:
    """Press a button of the teacher's sidebar; returns when it was pressed."""
    pressed = time.perf_counter()
    act(teacher, lambda: sidebar(teacher).get_by_role("button", name=name, exact=True).click())
    return pressed


def answer(student, value: int) -> None:
    box = student.get_by_label("Your answer (a whole number)")
    box.fill(str(value))
    act(student, lambda: student.get_by_role("button", name="Send my answer").click())
    student.get_by_text(f"Your answer: {value}.", exact=False).wait_for(timeout=WAIT_MS)


def test_a_teacher_leads_three_students_through_a_plan(lead_server, new_page, timings):
    teacher = new_page(1280, 900)
    open_page(teacher, f"{lead_server}/train", "Train")
    sign_in(teacher, TEACHER_KEY)
    students = [new_page() for _ in range(3)]
    for student, lang in zip(students, ("en", "en", "zh"), strict=True):
        open_page(student, f"{lead_server}/draw?lang={lang}", "Draw" if lang == "en" else ZH["Draw"])
    act(teacher, lambda: sidebar(teacher).get_by_text("Lead the class", exact=True).click())
    teacher.get_by_text("3 of 3", exact=False).wait_for(timeout=WAIT_MS)  # every student's tab follows
    settle(teacher)
    pick_plan(teacher)
    for student in students:
        on_step(student, 1, "Explain")
        assert "Follow the shapes down the network." in visible_text(student)  # the plan's line, as written
        assert "32 → 28 → 14 → 10 → 5" in visible_text(student)  # the shape walk
    shot(students[0], "lead-student-explain")
    shot(students[2], "zh-lead-student-explain")

    pressed = press(teacher, "Next")
    for student in students:
        on_step(student, 2, "Explain")
        student.get_by_text(said(student, "How wide is conv2's output, in pixels?")).wait_for(timeout=WAIT_MS)
    timings["lead_step_s"] = round(time.perf_counter() - pressed, 2)
    first, second, third = students
    answer(first, 10)
    answer(second, 12)
    answer(second, 14)  # changed their mind: one answer each, the last kept
    counted = {"10": 1, "14": 1}  # what the histogram comes to once the last answer's news has reached it
    teacher.wait_for_function(f"""() => {{ const h = ({ANSWERS_PLOT})();
        return h && h.title.includes('Answers: 2<') && JSON.stringify(h.x) === '["10","14"]'; }}""", timeout=WAIT_MS)
    shown = teacher.evaluate(ANSWERS_PLOT)
    assert dict(zip(shown["x"], shown["y"], strict=True)) == counted, shown
    shot(teacher, "lead-projector-question")
    act(teacher, lambda: sidebar(teacher).get_by_text("中文", exact=True).click())  # the projector in 中文, same step
    teacher.get_by_text(ZH["How wide is conv2's output, in pixels?"]).wait_for(timeout=WAIT_MS)
    shot(teacher, "zh-lead-projector-question")
    act(teacher, lambda: sidebar(teacher).get_by_text("English", exact=True).click())

    right = walk_answer(PLAN.steps[1].question, None)
    assert right == 10
    act(teacher, lambda: teacher.get_by_role("button", name="Reveal the answer").click())
    teacher.get_by_text(f"The answer: {right}", exact=False).wait_for(timeout=WAIT_MS)
    for student in students:
        student.get_by_text(said(student, f"The answer: {right}"), exact=False).wait_for(timeout=WAIT_MS)
    first.get_by_text("You said 10: right!").wait_for(timeout=WAIT_MS)

    press(teacher, "Next")
    for student in students:
        on_step(student, 3, "Draw")
        student.get_by_text(said(student, "Today's lesson: draw a 3.")).wait_for(timeout=WAIT_MS)
    act(third, lambda: third.get_by_role("button", name=said(third, "Explore on my own")).click())
    teacher.get_by_text("2 of 3", exact=False).wait_for(timeout=WAIT_MS)

    press(teacher, "Next")
    for student in (first, second):
        on_step(student, 4, "Build")
        student.get_by_text(DESIGN, exact=False).first.wait_for(timeout=WAIT_MS)
    assert third.get_by_role("heading", name=said(third, "Draw"), exact=True).is_visible()  # exploring: stays there
    assert said(third, "You are exploring on your own") in visible_text(third)
    act(third, lambda: third.get_by_role("button", name=said(third, "Follow again")).click())
    on_step(third, 4, "Build")
    teacher.get_by_text("3 of 3", exact=False).wait_for(timeout=WAIT_MS)

    press(teacher, "Pause the class")
    for student in students:
        student.get_by_text(said(student, "Eyes on the projector")).wait_for(timeout=WAIT_MS)
        assert not student.get_by_role("heading", name=said(student, "Build"), exact=True).is_visible()
    shot(first, "lead-student-paused")
    shot(third, "zh-lead-student-paused")
    press(teacher, "Resume")
    for student in students:
        on_step(student, 4, "Build")
    act(teacher, lambda: sidebar(teacher).get_by_text("Lead the class", exact=True).click())  # the lesson ends
    for student in students:  # each page is its own again, where the lesson left it
        student.get_by_text(said(student, "Step {n} of 4").format(n=4)).wait_for(state="detached", timeout=WAIT_MS)
        student.get_by_role("heading", name=said(student, "Build"), exact=True).wait_for(timeout=WAIT_MS)
        settle(student)
        assert student.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').count() == 6  # the menu's back


def test_present_mode_puts_the_charts_on_top_with_the_class_link_at_1280x720(lead_server, new_page):
    """The projector at 1280×720: large type, the join link and its QR code, then the live charts, inside
    the first screen; the recipe form folded below them."""
    teacher = new_page(1280, 720)
    open_page(teacher, f"{lead_server}/train", "Train")
    sign_in(teacher, TEACHER_KEY)
    act(teacher, lambda: sidebar(teacher).get_by_text("Present mode", exact=True).click())
    recipe = teacher.get_by_text("The recipe: model and training settings", exact=True)
    assert teacher.get_by_role("button", name="Start training").is_hidden()  # the form is folded away
    recipe.click()  # opened (in the browser alone: no run) to start a run
    starts_a_long_run(teacher)
    chart = teacher.locator(".js-plotly-plot").first
    chart.wait_for(timeout=WAIT_MS)
    settle(teacher)
    assert teacher.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "21px"
    teacher.evaluate("() => document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")  # top
    shot(teacher, "present-train-1280x720")
    link = teacher.get_by_text(f"Join the class: {lead_server}", exact=False)
    qr = teacher.locator('[data-testid="stMain"] [data-testid="stImage"] img').first
    stop = teacher.locator('[data-testid="stMain"]').get_by_role("button", name="Stop", exact=True)
    for shown in (link, qr, chart, stop):
        box = shown.bounding_box()
        assert box is not None and 0 <= box["y"] < 720 and box["x"] + box["width"] <= 1280, box  # on the first screen
    assert teacher.evaluate("() => document.scrollingElement.scrollWidth <= 1280")  # nothing cut off at the side
    act(teacher, lambda: stop.click())


@pytest.mark.skipif(nginx_path() is None, reason="needs Debian's nginx (.ci/run installs it)")
def test_a_teacher_on_one_replica_leads_students_on_the_other(tmp_path, new_page):
    """Behind nginx, over Redis: the step reaches r2's students by its news, r1's projector counts them
    (their presence, through the store) and their answers (the shared folder)."""
    runs = tmp_path / "runs"
    save_plan(runs / "lessons", PLAN)
    with behind_nginx(2, free_ports(2), env={"LENET_RUNS": str(runs), "LENET_TEACHER_KEY": TEACHER_KEY},
                      quiet=True) as served:
        keys = sticky_keys(served)
        teacher, *students = on(new_page, served, keys["r1"]), on(new_page, served, keys["r2"]), \
            on(new_page, served, keys["r2"])
        open_page(teacher, f"{served.url}/train", "Train")
        sign_in(teacher, TEACHER_KEY)
        for student in students:
            open_page(student, f"{served.url}/draw", "Draw")
        act(teacher, lambda: sidebar(teacher).get_by_text("Lead the class", exact=True).click())
        teacher.get_by_text("2 of 2", exact=False).wait_for(timeout=WAIT_MS)  # r2's tabs, counted on r1
        settle(teacher)
        pick_plan(teacher)
        press(teacher, "Next")
        for student in students:
            on_step(student, 2, "Explain")
        answer(students[0], 10)
        teacher.wait_for_function(f"""() => {{ const h = ({ANSWERS_PLOT})();
            return h && h.title.includes('Answers: 1<') && JSON.stringify(h.x) === '["10"]'; }}""", timeout=WAIT_MS)
        seen = replicas_by_key(served.prefix)
    assert all(len(upstreams) == 1 for upstreams in seen.values()), seen  # no session moved between replicas
