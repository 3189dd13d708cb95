"""Every page in a real browser: it opens, the menu is the app's own from the very first visit, the
first stroke on a fresh server is answered, Draw works offline, it fits a projector and a phone,
and the keyboard reaches its controls."""
import time

import pytest

from harness.browser import WAIT_MS, canvas_ready, draw_digit, go, menu, open_page, settle, shot, visible_text
from harness.servers import COMMANDS, app_server

PAGES = [("", "LeNet Lab"), ("train", "Train"), ("draw", "Draw"), ("explain", "Explain"), ("build", "Build"),
         ("class", "Class")]


def test_every_page_opens_without_an_exception(server, page, timings):
    ready = {}
    for path, title in PAGES:
        open_page(page, f"{server}/{path}", title)  # first visit: warms the caches
        ready[title] = open_page(page, f"{server}/{path}", title)
        shot(page, title.lower().replace(" ", "-"), full=True)
    switches = []
    for title in ["Train", "Draw", "Explain", "Build", "Class", "LeNet Lab"]:  # through the sidebar, as a user does
        start = time.perf_counter()
        go(page, title)
        switches.append(time.perf_counter() - start)
    timings["page_load_s"] = {k: round(v, 2) for k, v in ready.items()}
    timings["page_switch_s"] = [round(s, 2) for s in switches]


@pytest.mark.parametrize("command, path, title", [(command, "draw", "Draw") for command in COMMANDS]
                         + [("streamlit run app.py", "", "LeNet Lab")])
def test_a_first_visit_gets_the_apps_own_menu(command, path, title, new_page, tmp_path):
    """The very first visitor of a fresh server, straight to / or /draw, under either command:
    the app's menu and model picker, the right page, and nothing of Streamlit's automatic pages/
    listing (app, draw, explain, home, train) at any moment; a click in the first moment lands
    on the page clicked. See ui/common/router.py for why this needs care."""
    with app_server(tmp_path, command) as started:
        page = new_page()
        page.goto(f"{started.url}/{path}")
        menu(page).first.wait_for(timeout=WAIT_MS)
        listing = page.locator('[data-testid="stSidebarNav"]')
        assert listing.count() == 0 or not listing.is_visible()
        titles = ["Lab", "Train", "Draw", "Explain", "Build", "Class"]
        assert [t.split()[-1] for t in menu(page).all_inner_texts()] == titles
        other = "Explain" if title == "Draw" else "Draw"
        go(page, other)  # at once, before anything else has run
        assert page.get_by_text("Model", exact=True).count() == 1  # the shared picker, from the router
        page.go_back()
        page.get_by_role("heading", name=title, exact=True).wait_for(timeout=WAIT_MS)
        settle(page)


@pytest.mark.parametrize("server_number", range(5))
def test_the_first_stroke_on_a_fresh_server_is_answered(server_number, new_page, tmp_path):
    # failed at 95003f1 in 3 of 8 tries: a stroke drawn while the page warmed the digit-like check was never answered
    with app_server(tmp_path) as started:
        page = new_page()
        page.goto(f"{started.url}/draw")
        canvas_ready(page)
        page.wait_for_timeout(500)  # a student who draws as soon as the canvas shows
        draw_digit(page, "7")


OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",  # every download refused,
           "npm_config_offline": "true"}  # and npm's, with an empty cache of the test's own (npm_config_cache)


def test_draw_works_offline_and_what_needs_mnist_says_so(new_page, tmp_path):
    # failed at 95003f1: Draw took 74 s to load, every stroke ended in a DataError traceback, Start showed a path
    env = OFFLINE | {"LENET_DATA": str(tmp_path / "no-mnist"), "npm_config_cache": str(tmp_path / "npm")}
    with app_server(tmp_path / "runs", env=env) as started:
        page = new_page()
        open_page(page, f"{started.url}/draw", "Draw")
        draw_digit(page, "7")
        page.get_by_text("It looks like a digit to the model", exact=False).wait_for(timeout=WAIT_MS)
        go(page, "Train")
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("MNIST is not on this server", exact=False).first.wait_for(timeout=WAIT_MS)
        shown = visible_text(page)
        assert str(tmp_path) not in shown and "Traceback" not in shown and "DataError" not in shown
        assert not list((tmp_path / "no-mnist").rglob("*-ubyte"))  # nothing was fetched: it really was offline


@pytest.mark.parametrize("width, height", [(1280, 720), (390, 844)])
def test_projector_and_phone_views(server, new_page, width, height):
    """The projector's 1280×720 and a phone's 390×844: nothing wider than the screen, text
    large enough, and on the phone the Prediction above the fold once a digit is drawn."""
    page = new_page(width, height)
    for path, title in [("train", "Train"), ("explain", "Explain"), ("draw", "Draw")]:
        open_page(page, f"{server}/{path}", title)
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        shot(page, f"{path}-{width}x{height}")
    smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('[data-testid=stMain] p')]
        .filter(e => e.offsetParent).map(e => parseFloat(getComputedStyle(e).fontSize)))""")
    assert smallest >= 12
    draw_digit(page, "7")
    page.evaluate("() => window.scrollTo(0, 0)")
    box = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").first.bounding_box()
    assert box["y"] + box["height"] <= height, box
    shot(page, f"draw-{width}x{height}")


FOCUSED = """() => { const e = document.activeElement;
    return [e.tagName, e.getAttribute('role') || e.type || '',
            (e.getAttribute('aria-label') || e.innerText || '').trim()]; }"""


def test_the_keyboard_reaches_the_controls(server, page):
    """Tab alone goes through the sidebar (menu, model picker, language, Share) and Draw's own
    controls (pen width, Clear, the upload); Space on the language switch changes the language."""
    open_page(page, f"{server}/draw", "Draw")
    canvas_ready(page)
    reached = []
    for _ in range(25):
        page.keyboard.press("Tab")
        reached.append(tuple(page.evaluate(FOCUSED)))
    names = [[line for line in name.split("\n") if line]  # an icon's name, then the label
             for tag, _, name in reached if tag in ("A", "BUTTON", "INPUT")]  # controls, not the page's text
    for control in ("Train", "Explain", "Class", "Model", "Share this setup", "Pen width", "Clear", "Upload"):
        assert any(control in lines for lines in names), (control, reached)
    assert ("INPUT", "combobox", "Model") in reached and any(kind == "radio" for _, kind, _ in reached), reached
    page.locator('[data-testid="stSidebar"]').get_by_role("radio", name="中文").focus()
    page.keyboard.press("Space")
    page.get_by_role("heading", name="画数字", exact=True).wait_for(timeout=WAIT_MS)
    settle(page)
