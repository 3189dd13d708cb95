"""Lessons by link in a real browser: a 中文 link opens the app set up, with its controls hidden,
and "Share this setup" builds a link that opens the same setup again."""
import urllib.parse

from harness.browser import WAIT_MS, act, draw_digit, go, menu, open_page, settle, shot, visible_text

LESSON_NOTE = "今天：为什么 sigmoid 学得这么慢？"
ENGLISH_ON_TRAIN = ("Start training", "No run yet", "Epochs", "Learning rate", "Model", "Saved runs",
                    "Share this setup")


def check_the_chinese_train_page(page) -> None:
    main, side = page.locator('[data-testid="stMain"]'), page.locator('[data-testid="stSidebar"]')
    page.get_by_text(LESSON_NOTE).wait_for(timeout=WAIT_MS)
    page.get_by_text("这个链接要求了 LeNet Lab 做不到的事").wait_for(timeout=WAIT_MS)  # epochs=lots, ignored
    assert "lots" in visible_text(page)
    main.get_by_role("button", name="开始训练").wait_for(timeout=WAIT_MS)  # after the router's notes
    assert main.get_by_role("combobox", name="激活函数").input_value() == "sigmoid"
    assert float(main.get_by_role("spinbutton", name="学习率（峰值）").input_value()) == 0.05
    assert main.get_by_text("优化器", exact=True).count() == 0  # hidden, though the run will use sgd
    assert main.get_by_text("训练记录", exact=True).count() == 0 and main.get_by_text("比较训练记录").count() == 0
    assert side.get_by_text("模型", exact=True).count() == 0  # the picker
    assert side.get_by_text("Language · 语言").count() == 0 and side.get_by_text("English").count() == 0
    assert [t.split()[-1] for t in menu(page).all_inner_texts()] == ["Lab", "训练", "画数字", "讲解", "搭建", "课堂"]
    text = visible_text(page)
    assert "⟦" not in text and not [w for w in ENGLISH_ON_TRAIN if w in text], text


def test_a_chinese_lesson_link_opens_set_up_with_its_controls_hidden(server, page):
    """A teacher's link in 中文: the recipe it sets, its note on every page, its hidden controls
    absent (the sidebar's picker and language switch too), a bad value ignored with a note, and
    not one English word of the app's own or a missing-string marker on Train, Draw and Explain."""
    query = urllib.parse.urlencode({"lang": "zh", "activation": "sigmoid", "optimizer": "sgd", "lr": "0.05",
                                    "epochs": "lots", "hide": "picker,lang,optimizer,saved,compare",
                                    "note": LESSON_NOTE})
    open_page(page, f"{server}/train?{query}", "训练")
    check_the_chinese_train_page(page)
    shot(page, "zh-train-lesson", full=True)
    go(page, "画数字")  # Streamlit cleared the query; the lesson stays in the session and goes back in the address
    page.get_by_text(LESSON_NOTE).wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => location.search.includes('lang=zh')", timeout=WAIT_MS)
    assert "/draw?" in page.url and "epochs" not in page.url  # the ignored value is not carried on
    page.reload()  # a new session, from the address alone: the same lesson
    page.get_by_role("heading", name="画数字", exact=True).wait_for(timeout=WAIT_MS)
    settle(page, since=0)
    page.get_by_text(LESSON_NOTE).wait_for(timeout=WAIT_MS)
    assert page.locator('[data-testid="stSidebar"]').get_by_text("模型", exact=True).count() == 0
    draw_digit(page, "7", label="预测")
    page.get_by_text("是 7 吗？").wait_for(timeout=WAIT_MS)
    assert "⟦" not in visible_text(page) and "Prediction" not in visible_text(page)
    shot(page, "zh-draw", full=True)
    go(page, "讲解")
    page.get_by_text(LESSON_NOTE).wait_for(timeout=WAIT_MS)
    page.get_by_text("你在“画数字”页画的数字").first.wait_for(timeout=WAIT_MS)
    assert "⟦" not in visible_text(page)
    shot(page, "zh-explain", full=True)


def test_share_this_setup_builds_a_link_that_opens_it_again(server, page, new_page):
    """Set Train up, tick controls to hide, type a note: the link shown opens, in a new browser,
    the same recipe with those controls gone and the note on top."""
    open_page(page, f"{server}/train", "Train")
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("4")
    act(page, lambda: page.get_by_role("spinbutton", name="Epochs", exact=True).press("Enter"))
    page.get_by_role("button", name="Share this setup").click()
    share = page.locator('[data-testid="stPopoverBody"]')
    act(page, lambda: share.get_by_text("the model picker").click())
    act(page, lambda: share.get_by_text("Saved runs").click())
    share.get_by_role("textbox").fill("Four epochs today")
    act(page, lambda: share.get_by_role("textbox").press("Enter"))
    code = share.locator('[data-testid="stCode"]')
    page.wait_for_function("""() => [...document.querySelectorAll(
        '[data-testid="stPopoverBody"] [data-testid="stCode"]')].some(e => e.innerText.includes('note=Four'))""",
                           timeout=WAIT_MS)
    link = code.inner_text().strip()  # once the rerun that took the note has redrawn it
    assert link.startswith(f"{server}/train?") and "epochs=4" in link, link
    other = new_page()
    open_page(other, link, "Train")
    other.get_by_text("Four epochs today").wait_for(timeout=WAIT_MS)
    assert other.get_by_role("spinbutton", name="Epochs", exact=True).input_value() == "4", link
    side = other.locator('[data-testid="stSidebar"]')
    assert side.get_by_text("Model", exact=True).count() == 0
    assert other.locator('[data-testid="stMain"]').get_by_text("Saved runs", exact=True).count() == 0
    assert side.get_by_text("Language · 语言").count() == 1  # not ticked: still there
