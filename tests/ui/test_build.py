"""The Build page in Streamlit's AppTest: the menus make a design, and every change shows its walk,
parameters and multiply-adds as lenet/designs.py works them out; an impossible one says why."""
import shutil
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from lenet.checkpoints import save_epoch
from lenet.classroom.board import Budget, Entry, read_board, write_entry
from lenet.config import TrainConfig
from lenet.designs import LENET5, PRESETS, check
from lenet.files import CHECKPOINT_DIR, ROOT
from lenet.inside.introspect import sides
from lenet.registry import build_model
from ui.common.i18n import Text

pytestmark = pytest.mark.app


def build_page(lang: str = "en", link: dict[str, str] | None = None) -> AppTest:
    """The Build page, opened from a lesson link's query when there is one (read on the first run)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(link or {})
    if lang != "en":
        at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/build.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(at: AppTest) -> tuple[str, str, str]:
    """(the design text, the parameters metric, the multiply-adds metric) as the page shows them."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]  # no "set twice" warning from a widget
    return at.code[0].value, at.metric[0].value, at.metric[1].value


def test_it_opens_on_lenet5_and_its_numbers_are_the_walks():
    at = build_page()
    design, params, work = shown(at)
    walk = check(LENET5)
    assert (design, params, work) == (LENET5, "61,706", f"{walk.multiply_adds:,}")
    table = at.table[0].value
    assert list(table.iloc[:, 0]) == [r.name for r in walk.rows] + ["total"]
    assert int(table.iloc[-1, 4]) == walk.params and int(table.iloc[-1, 5]) == walk.multiply_adds


def test_every_change_redraws_the_numbers_before_any_training():
    at = build_page()
    at.selectbox(key="build.conv2.kernel").set_value(3).run()
    design, params, _ = shown(at)
    assert design == "c6k5p2-m2-c16k3-m2-f120-f84" and params == f"{check(design).params:,}"
    at.number_input(key="build.fcs").set_value(1).run()
    at.selectbox(key="build.conv1.pool").set_value("avg").run()
    design, params, work = shown(at)
    assert design == "c6k5p2-a2-c16k3-m2-f120" and (params, work) == (f"{check(design).params:,}",
                                                                      f"{check(design).multiply_adds:,}")


def test_an_impossible_design_says_why_and_nothing_raises():
    at = build_page()
    at.number_input(key="build.convs").set_value(3).run()  # a third block after LeNet's 5×5 maps
    at.selectbox(key="build.conv3.kernel").set_value(7).run()
    design, params, _ = shown(at)
    assert design.startswith("c6k5p2-m2-c16k5-m2-c16k7") and params == "—"
    assert [e.value for e in at.error] == ["conv3's 7×7 window is larger than its 5×5 input: there is no output"]


def test_a_preset_and_a_typed_design_set_the_menus():
    at = build_page()
    at.selectbox(key="build.preset").set_value("mlp").run()
    assert shown(at)[0] == PRESETS["mlp"][0] and at.number_input(key="build.convs").value == 0
    at.text_input(key="build.typed").input("c8k3s2-a2-f32").run()
    assert shown(at)[0] == "c8k3s2-a2-f32" and at.selectbox(key="build.conv1.stride").value == 2
    at.text_input(key="build.typed").input("m2-c6k5").run()  # pooling first: the menus can't show it
    assert shown(at)[0] == "m2-c6k5" and at.info and not at.error


def test_in_chinese_the_reason_is_chinese():
    at = build_page("zh")
    at.text_input(key="build.typed").input("c6k5-f120-m2").run()
    shown(at)
    problem = check("c6k5-f120-m2").problem
    assert [e.value for e in at.error] == [Text("zh").msg(problem)]
    assert "pool1 在 fc1 之后" in at.error[0].value


def test_a_lesson_link_opens_its_design_and_hides_the_menus_it_says():
    at = build_page(link={"design": "c6k3p1-m2-c16k3-m2-f120-f84", "activation": "tanh", "hide": "preset,kernel,pool"})
    design, params, _ = shown(at)
    assert (design, params) == ("c6k3p1-m2-c16k3-m2-f120-f84", f"{check(design, 'tanh').params:,}")
    assert at.selectbox(key="build.activation").value == "tanh"
    drawn = {w.key for w in [*at.selectbox, *at.number_input, *at.text_input]}
    assert not drawn & {"build.preset", "build.conv1.kernel", "build.conv2.kernel", "build.conv1.pool",
                        "build.conv1.pool_size", "build.conv2.pool", "build.conv2.pool_size"}
    assert {"build.typed", "build.convs", "build.conv1.padding", "build.fc1.units"} <= drawn
    at.selectbox(key="build.conv1.padding").set_value(0).run()  # a shown menu changes the design; hidden ones hold
    assert shown(at)[0] == "c6k3-m2-c16k3-m2-f120-f84"
    at.switch_page("pages/draw.py").run()
    at.switch_page("pages/build.py").run()  # and both hold while another page is shown
    assert shown(at)[0] == "c6k3-m2-c16k3-m2-f120-f84" and at.selectbox(key="build.activation").value == "tanh"


def test_a_link_with_a_design_build_cannot_open_says_why_and_opens_lenet5():
    at = build_page("zh", link={"design": "c6k5-f120-m2"})
    assert shown(at)[0] == LENET5
    said = " ".join(m.value for m in at.markdown)
    assert "“c6k5\\-f120\\-m2” 不是“搭建”页能打开的设计" in said and "pool1 在 fc1 之后" in said  # as plain text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_board_and_try_it_speak_the_page_s_language(lang, tmp_path, monkeypatch):
    """A board with one design, read in both languages: every text found in the tables, the
    picker shows the design, and the board's numbers are the entry's."""
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    entry = Entry(name="20261202-120000-design-c6k5p2-m2-c16k5-m2-f120-f84-relu-SwiftOtter42", nickname="SwiftOtter42",
                  design=LENET5, activation="relu", params=check(LENET5).params,
                  multiply_adds=check(LENET5).multiply_adds, train_s=4.2, wall_s=5.0, test_accuracy=0.9876,
                  class_accuracy=0.75, class_count=20, budget=Budget().record())
    write_entry(entry)
    shutil.copy(CHECKPOINT_DIR / "lenet5.pt", entry.checkpoint())
    at = build_page(lang)
    t = Text(lang)
    shown = " ".join([str(at.sidebar)] + [str(x.value) for x in (*at.markdown, *at.caption, *at.subheader)]
                     + [str(tab.value) for tab in at.table])
    assert "⟦" not in shown
    assert t("board.title") in shown and t("board.try_title") in shown
    board = next(tab.value for tab in at.table if t("board.col_nickname") in tab.value.columns)
    row = board.iloc[0]
    assert row[t("board.col_test")] == "98.76%" and row[t("board.col_class")] == "75.0% (20)"
    assert row[t("board.col_params")] == f"{entry.params:,}" and "SwiftOtter42 ★" in row[t("board.col_nickname")]
    label = t("picker.board", nickname="SwiftOtter42", design=LENET5) + " · 98.76%"
    assert label in at.sidebar.selectbox[0].options  # the sidebar's picker offers it to Draw and Explain
    assert at.button(key="board.clear").disabled  # at home the teacher's tools are the user's: clearing asks first
    at.checkbox(key="board.clear_sure").check().run()
    at.button(key="board.clear").click().run()
    assert read_board() == [] and not entry.checkpoint().exists()


@pytest.mark.parametrize("spec", ["c4k3p1-a2-c8k3-m2-f32", "c6k5-c16k5-m2-f32"])
def test_explain_reads_a_design_from_the_board_in_every_view(spec, tmp_path, monkeypatch):
    """A design picked from the board on Explain: its own walk, and every look inside that fits it,
    with no LeNet-5 sizes assumed (3×3 filters; a design that doesn't start conv → pool)."""
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    config = TrainConfig(design=spec)
    entry = Entry(name=f"20261202-120000-design-{spec}-relu-Nick11", nickname="Nick11", design=spec, activation="relu",
                  params=check(spec).params, multiply_adds=check(spec).multiply_adds, train_s=1.0, wall_s=2.0,
                  test_accuracy=0.5, class_accuracy=None, class_count=0)
    record = {"epoch": 1, "eval_accuracy": 0.5, "eval_loss": 1.0, "eval_split": "test"}
    save_epoch(entry.checkpoint(), config, build_model("design", spec=spec), [record])
    write_entry(entry)
    at = build_page()
    at.session_state["model_key"] = at.session_state["model_picker"] = str(entry.checkpoint())
    at.switch_page("pages/explain.py").run()
    assert not at.exception, [e.value for e in at.exception]
    walk = " → ".join(str(side) for side in sides(check(spec).rows))
    assert any(walk in m.value and "Build" in m.value for m in at.markdown)
    lenet_like = spec.startswith("c4")  # conv → pool → conv → pool, or not
    assert len(at.radio(key="explain_view").options) == (6 if lenet_like else 4)  # maps and stepper, or not
    for view in ("maps", "stepper", "softmax") if lenet_like else ("softmax",):  # (the map reads all of MNIST)
        at.radio(key="explain_view").set_value(view).run()
        assert not at.exception, (view, [e.value for e in at.exception])


def test_share_on_build_carries_the_design_and_it_opens_again():
    # failed at 95003f1: Share this setup on Build made a link with no design in it
    at = build_page()
    at.text_input(key="build.typed").input("c8k3s2-a2-f32").run()
    shared = next(c.value for c in at.sidebar.code if "design=" in c.value)
    query = dict(parse_qsl(urlsplit(shared).query))
    assert query["design"] == "c8k3s2-a2-f32"
    again = build_page(link=query)
    assert next(c.value for c in again.code if c.value.startswith("c")) == "c8k3s2-a2-f32"
