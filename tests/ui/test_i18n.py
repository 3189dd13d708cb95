"""English and 中文: the same keys and placeholders in both tables, every page in both languages
with nothing missing, and a command line that stays English."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from lenet.config import TrainConfig
from lenet.files import ROOT
from lenet.messages import ENGLISH, Message
from lenet.settings import settings_of
from ui.common.i18n import LANGUAGES, MISSING, Text, placeholders, table

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # Chinese characters and full-width punctuation
PAGES = ["pages/home.py", "pages/train.py", "pages/draw.py", "pages/explain.py", "pages/build.py", "pages/class.py"]


def test_every_key_is_in_both_languages():
    en, zh = table("en"), table("zh")
    assert sorted(set(en) - set(zh)) == [] and sorted(set(zh) - set(en)) == []


def test_lenets_own_messages_and_settings_are_in_both_languages():
    for key in ENGLISH:
        assert f"msg.{key}" in table("zh"), key
    for s in settings_of(TrainConfig):
        assert {f"setting.{s.name}.label", f"setting.{s.name}.help"} <= set(table("zh")), s.name


def test_every_placeholder_matches():
    en, zh = table("en"), table("zh")
    assert {k: (placeholders(en[k]), placeholders(zh[k])) for k in en
            if placeholders(en[k]) != placeholders(zh[k])} == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_fills_in(lang):
    """Each template takes numbers in every placeholder (format specs such as {p:.1%} or {n:,}
    included), and a plotly hover template keeps its %{y} after filling."""
    t = Text(lang)
    for key, template in table(lang).items():
        filled = t(key, **{name: 1.5 for name in placeholders(template)})
        assert MISSING.format(key) != filled, f"{lang}: {key} = {template!r}"
        assert "{" not in filled.replace("%{", ""), f"{lang}: {key} left a brace: {filled!r}"
    assert Text(lang)("chart.confusion_hover").count("%{") == 3


def test_chinese_uses_the_terms_chinese_courses_use():
    zh = " ".join(table("zh").values())
    for term in ("卷积层", "池化层", "全连接层", "激活函数", "特征图", "损失", "准确率", "学习率", "批大小", "卷积核",
                 "步长", "填充", "感受野", "交叉熵", "混淆矩阵"):
        assert term in zh, term


def test_a_lenet_message_is_said_in_the_sessions_language():
    message = Message("job.failed", error=Message("image.empty"))
    assert Text("en").msg(message) == "Training failed: the file is empty" == message
    assert Text("zh").msg(message) == "训练失败：文件是空的"
    problem = [s for s in settings_of(TrainConfig) if s.name == "lr"][0].problem(99.0)
    assert "learning rate (peak) must be from 1e-06 to 10" in problem  # the CLI's English
    assert Text("zh").msg(problem).startswith("学习率（峰值） 必须在 1e-06 到 10 之间")


def visible_text(at: AppTest) -> list[str]:
    """Every text a page put on screen, widget labels and help included."""
    texts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "metric", "button", "checkbox", "toggle", "radio", "selectbox", "slider", "number_input",
                 "text_input", "multiselect", "expander", "tabs"):
        for element in getattr(at, kind, []):
            for attr in ("value", "label", "help", "body", "options"):
                value = getattr(element, attr, None)
                if isinstance(value, str):
                    texts.append(value)
                elif isinstance(value, list):
                    texts += [str(v) for v in value]
    texts += [str(t.value) for t in at.table]
    return texts


@pytest.mark.app
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_both_languages_with_nothing_missing(page, lang):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    if page != "pages/home.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(visible_text(at) + [str(at.sidebar)])
    assert "⟦" not in shown, re.findall(r"⟦[^⟧]*⟧", shown)
    words = " ".join(e.value for kind in ("title", "markdown", "caption", "info") for e in getattr(at, kind))
    if lang == "zh":
        assert CJK.search(words), words[:300]
    else:  # English pages say nothing in Chinese (the sidebar's language switch names 中文, on purpose)
        assert not CJK.search(words), CJK.findall(words)


def test_the_command_line_stays_english(tmp_path, capsys):
    from lenet.cli import main
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not a picture")
    for args in (["--help"], ["train", "--help"], ["train", "--lr", "99"], ["predict", str(not_an_image)],
                 ["summary", "lenet5"]):
        try:
            main(args)
        except SystemExit:
            pass
        out = capsys.readouterr()
        said = out.out + out.err
        assert said.strip() and not CJK.search(said), (args, said[-500:])


@pytest.mark.process
def test_lenet_never_reaches_for_the_apps_tables():
    imported = subprocess.run([sys.executable, "-c", "import lenet.cli, sys; print(sorted(m for m in sys.modules "
                               "if m == 'ui' or m.startswith(('ui.', 'streamlit'))))"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert imported.stdout.strip() == "[]"


@pytest.mark.app
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_class_page_with_drawings_renders_in_both_languages(lang, digits, tmp_path, monkeypatch):
    """The Class page once the class has drawn: counts, the confusion matrix and the grid, with
    the model's answer on each drawing, in both languages."""
    from lenet.classroom import collection
    images, labels = digits
    for image, label in zip(images[:20], labels[:20], strict=True):
        collection.save(tmp_path / "class", image, int(label), predicted=int(label))
    collection.save(tmp_path / "class", images[20], (int(labels[20]) + 1) % 10, predicted=int(labels[20]))  # corrected
    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    at.switch_page("pages/class.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.value for m in at.metric][:1] == ["21"] and at.metric[2].value == "1"
    assert at.metric[1].value == f"{20 / 21:.1%}"  # the shipped lenet5 reads the 20 right, not the corrected one
    assert any(" 21 " in m.value for m in at.markdown) and "⟦" not in " ".join(visible_text(at))


def test_the_home_page_describes_the_same_app_in_both_languages():
    """Each language's overview lists every page of the menu (English once left Class out)."""
    for lang in LANGUAGES:
        t = Text(lang)
        intro = t("home.intro")
        for page in ("train", "draw", "explain", "build", "class"):
            assert f"**{t(page + '.title')}**" in intro, (lang, page)


def test_an_error_from_training_is_said_in_the_sessions_language():
    """train.py's own errors are keyed Messages, so the Class page says them in 中文 too."""
    try:
        TrainConfig(model="mlp", layers="classifier").validate()
    except ValueError as err:
        assert Text("en").error(err).startswith("MLP has no feature layers")
        assert Text("zh").error(err).startswith("MLP 没有可以保留的特征层")
    else:
        raise AssertionError("the MLP has no features to keep")


@pytest.mark.app
@pytest.mark.mnist
@pytest.mark.parametrize("lang", LANGUAGES)
def test_explains_new_views_render_in_both_languages_with_nothing_missing(lang):
    """Fool the network (FGSM, then the targeted attack, and the ε curve) and Not a digit? say all
    they say in the session's language, including the chart's title and axes."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = lang
    at.run()
    at.switch_page("pages/explain.py").run()
    for view in ("fool", "doubt"):
        at.radio(key="explain_view").set_value(view).run()
        if view == "fool":
            at.radio(key="explain_fool_kind").set_value("targeted").run()
        assert not at.exception, [e.value for e in at.exception]
        shown = " ".join(visible_text(at) + [str(chart.proto.spec) for chart in at.get("plotly_chart")])
        assert "⟦" not in shown, re.findall(r"⟦[^⟧]*⟧", shown)
        words = " ".join(e.value for kind in ("markdown", "caption") for e in getattr(at, kind))
        assert bool(CJK.search(words)) == (lang == "zh"), words[-300:]
