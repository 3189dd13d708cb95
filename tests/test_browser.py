"""LeNet Lab in a real browser: Debian's chromium driven by Playwright against `python -m ui.serve`.

Every test opens pages, draws with the mouse, uploads files or trains, and checks what a person
would see: no exception box and no Python object text. Screenshots of each page and the measured
timings (timings.json) go to out/browser/, or to $LENET_SHOTS: `make screenshots` refreshes
docs/screenshots/ for the README. The timings are checked against their targets by
`python -m bench.browser`, not here: a busy machine must not fail a test.
Without /usr/bin/chromium these tests skip: `sudo apt-get install chromium` enables them.
"""
from __future__ import annotations

import io
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenet.data import sample_digits
from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
SHOTS = Path(os.environ.get("LENET_SHOTS", ROOT / "out" / "browser"))  # `make screenshots`: docs/screenshots
TIMINGS: dict[str, object] = {}

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not CHROMIUM.exists(), reason="browser tests need Debian's chromium: `sudo apt-get install chromium` enables them")]

COMMANDS = {  # the two ways to start the app: `make run`, and what Streamlit's own hosting runs
    "make run": [sys.executable, "-m", "ui.serve"],
    "streamlit run app.py": [sys.executable, "-m", "streamlit", "run", "app.py"],
}
STRAY = ("DeltaGenerator(", "object at 0x", "Traceback (most recent call last)")  # Python text a person must never see


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(command: list[str], runs: Path, env: dict[str, str] | None = None):
    """A fresh app server (so its first visitor is really the first), yielding its URL."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "LENET_TEACHER_KEY"} | {"LENET_RUNS": str(runs)}
    proc = subprocess.Popen([*command, "--server.headless", "true", "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=ROOT, env=environ | (env or {}),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {proc.stdout.read()[-2000:]}")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(COMMANDS["make run"], tmp_path_factory.mktemp("runs")) as url:
        yield url
    if TIMINGS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def settle(page, timeout: float = 30) -> None:
    """Wait until the script run is over (Streamlit's running indicator gone), then check what a
    person sees: no exception box, and no Python object text written to the page."""
    page.wait_for_timeout(150)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout * 1000)
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()
    text = page.locator("body").inner_text()
    assert not any(stray in text for stray in STRAY), [stray for stray in STRAY if stray in text]


def menu(page):
    """The app's own menu in the sidebar (ui/router.py draws it with st.page_link)."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]')


def go(page, title: str) -> None:
    """Click a page in the sidebar menu, as a user does, and wait for it."""
    menu(page).get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    settle(page)


def open_page(page, url: str, title: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60000)
    settle(page)
    return time.perf_counter() - start


def prediction(page, label: str = "Prediction") -> str | None:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    if metric.count() == 0:
        return None
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def canvas_ready(page) -> None:
    """Wait for the canvas to be mounted and still: the page moves it down once, to make room
    for its toolbar (ui/drawing.py), and a stroke aimed before that would miss."""
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=20000)
    page.wait_for_function("""() => [...document.querySelectorAll('*')].some(h => h.shadowRoot
        && h.shadowRoot.querySelector('style[data-lenet]'))""", timeout=20000)
    box = None
    while box != (box := canvas.bounding_box()):
        page.wait_for_timeout(150)


def stroke(page, points: list[tuple[float, float]]) -> None:
    """Draw one mouse stroke through canvas-relative points (0..1 of its size)."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    xy = [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in itertools.pairwise(xy):
        for t in np.linspace(0, 1, 8)[1:]:
            page.mouse.move(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
    page.mouse.up()


def wait_for_prediction(page, expected: str, old: str | None, timeout: float = 10) -> None:
    """Wait until the Prediction shows `expected` (changed from `old`)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        value = prediction(page)
        if value is not None and value != old and value == expected:
            return
        page.wait_for_timeout(20)
    raise AssertionError(f"Prediction is {prediction(page)!r}, expected {expected!r}")


WATCH = """([digit, label]) => { window._up = null; window._seen = null;
    document.addEventListener('mouseup', () => { window._up = performance.now(); }, {capture: true, once: true});
    const seen = new MutationObserver(() => {
        const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
            .find(e => e.innerText.includes(label));
        const v = m && m.querySelector('[data-testid="stMetricValue"]');
        if (window._up && v && v.innerText.trim() === digit) { window._seen = performance.now(); seen.disconnect(); }
    });
    seen.observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def draw_digit(page, digit: str, label: str = "Prediction") -> float:
    """Draw `digit` with the mouse; return ms from the last mouse-up to the Prediction (metric
    `label`) showing it, timed inside the page (a MutationObserver), so Playwright's round trips
    don't count."""
    canvas_ready(page)
    strokes = DIGITS[digit]
    for points in strokes[:-1]:
        stroke(page, points)
        page.wait_for_timeout(400)
    page.evaluate(WATCH, [digit, label])
    stroke(page, strokes[-1])
    try:
        page.wait_for_function("() => window._seen", timeout=15000)
    except Exception:
        page.screenshot(path=str(SHOTS.parent / f"failed-draw-{digit}.png"))
        raise AssertionError(f"drew {digit}, but the Prediction shows {prediction(page, label)!r}") from None
    return page.evaluate("() => window._seen - window._up")


def clear(page) -> None:
    """Press Clear and wait until the new, empty canvas is mounted and listening."""
    old = page.locator("canvas.upper-canvas").element_handle()
    for attempt in range(2):
        page.get_by_role("button", name="Clear").click()
        try:  # a click that lands while a timed fragment reruns can be dropped: a person clicks again
            page.wait_for_function("e => !e.isConnected", arg=old, timeout=10000)
            break
        except Exception:
            page.screenshot(path=str(SHOTS.parent / f"failed-clear-{attempt}.png"))
            if attempt:
                raise
    page.locator("canvas.upper-canvas").wait_for(timeout=20000)
    settle(page)
    page.get_by_text("Draw a digit on the black canvas").wait_for()
    page.wait_for_timeout(300)  # fabric attaches its mouse handlers just after mounting


DIGITS = {
    "1": [[(0.5, 0.15), (0.5, 0.85)]],
    "7": [[(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)]],
    "0": [[(0.5 + 0.22 * np.sin(a), 0.5 - 0.32 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 24)]],
    "4": [[(0.55, 0.15), (0.25, 0.6), (0.75, 0.6)], [(0.6, 0.35), (0.6, 0.88)]],
}


def test_every_page_opens_without_an_exception(server, page):
    ready = {}
    for path, title in [("", "LeNet Lab"), ("train", "Train"), ("draw", "Draw"), ("explain", "Explain"),
                        ("class", "Class")]:
        open_page(page, f"{server}/{path}", title)  # first visit: warms the caches
        ready[title] = min(open_page(page, f"{server}/{path}", title) for _ in range(2))
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{title.lower().replace(' ', '-')}.png"), full_page=True)
    switches = []
    for title in ["Train", "Draw", "Explain", "Class", "LeNet Lab"]:  # through the sidebar, as a user does
        start = time.perf_counter()
        go(page, title)
        switches.append(time.perf_counter() - start)
    TIMINGS["page_load_s"] = {k: round(v, 2) for k, v in ready.items()}
    TIMINGS["page_switch_s"] = [round(s, 2) for s in switches]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("path, title", [("", "LeNet Lab"), ("draw", "Draw")])
def test_a_first_visit_gets_the_apps_own_menu(command, path, title, browser, tmp_path):
    """The very first visitor of a fresh server, straight to / or /draw, under either command:
    the app's menu and model picker, the right page, and nothing of Streamlit's automatic pages/
    listing (app, draw, explain, home, train) at any moment; a click in the first moment lands
    on the page clicked. See ui/router.py for why this needs care."""
    with serving(COMMANDS[command], tmp_path) as url:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        try:
            page.goto(f"{url}/{path}")
            first = menu(page).first
            first.wait_for(timeout=60000)
            listing = page.locator('[data-testid="stSidebarNav"]')
            assert listing.count() == 0 or not listing.is_visible()
            assert menu(page).all_inner_texts() and [t.split()[-1] for t in menu(page).all_inner_texts()] == [
                "Lab", "Train", "Draw", "Explain", "Class"]
            other = "Explain" if title == "Draw" else "Draw"
            menu(page).get_by_text(other, exact=True).click()  # at once, before anything else has run
            page.get_by_role("heading", name=other, exact=True).wait_for()
            settle(page)
            assert page.get_by_text("Model", exact=True).count() == 1  # the shared picker, from the router
            page.go_back()
            page.get_by_role("heading", name=title, exact=True).wait_for()
            settle(page)
        finally:
            page.context.close()


def test_drawing_with_the_mouse_predicts_each_digit(server, page):
    open_page(page, f"{server}/draw", "Draw")
    latencies = []
    for digit in [*DIGITS, *DIGITS]:
        latencies.append(draw_digit(page, digit))
        settle(page)
        page.screenshot(path=str(SHOTS / f"draw-{digit}.png"))
        clear(page)
    TIMINGS["stroke_to_prediction_ms"] = {"first": round(latencies[0]), "median": round(statistics.median(latencies)),
                                          "max_after_first": round(max(latencies[1:])),
                                          "all": [round(t) for t in latencies]}


def test_what_the_model_sees_and_the_comparisons(server, page):
    open_page(page, f"{server}/draw", "Draw")
    draw_digit(page, "7")
    settle(page)
    for caption in ["cropped to the ink", "fitted into 20×20", "centred in 28×28"]:
        page.get_by_text(caption).wait_for()  # (drawn just after the Prediction, in the same rerun)
        assert page.get_by_text(caption).count() == 1
    page.get_by_text("Compare with a naive resize of the whole canvas").click()
    page.get_by_text("Prediction without preprocessing").wait_for(timeout=10000)
    settle(page)
    page.get_by_text("All models side by side").click()
    page.get_by_text("lenet5-classic ·").first.wait_for(timeout=10000)
    settle(page)
    page.screenshot(path=str(SHOTS / "draw-compare.png"), full_page=True)
    # the Explain page shows the feature maps of this drawing
    go(page, "Explain")
    page.get_by_text("Your drawing from the Draw page.").wait_for()
    assert page.get_by_text("conv1: 6 maps of 28×28").count() == 1
    page.screenshot(path=str(SHOTS / "explain-drawing.png"), full_page=True)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_uploads_good_and_bad(server, page, tmp_path):
    digits, labels = sample_digits()
    photo = Image.fromarray(255 - np.asarray(Image.fromarray(digits[0]).resize((200, 200))))  # dark ink on paper
    files = {"seven.png": png_bytes(photo), "notes.png": b"just some text, not an image",
             "huge.png": b"\x89PNG" + os.urandom(11 * 2**20)}
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    files["bomb.png"] = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 1, 0, 0, 0, 0))
                         + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    open_page(page, f"{server}/draw", "Draw")
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')

    upload.set_input_files(str(tmp_path / "seven.png"))
    wait_for_prediction(page, str(labels[0]), None)
    settle(page)
    page.screenshot(path=str(SHOTS / "draw-upload.png"))
    messages = {}
    remove = page.locator('[data-testid="stFileChipDeleteBtn"] button, [data-testid="stFileUploaderDeleteBtn"] button')
    expected = [("notes.png", "not an image"), ("bomb.png", "decompression bomb"), ("huge.png", "10.0MB or smaller")]
    for name, expect in expected:
        while remove.count():
            remove.first.click()
            settle(page)
        upload.set_input_files(str(tmp_path / name))
        alert = page.locator('[data-testid="stAlert"], [data-testid="stFileChip"]').filter(has_text=expect)
        alert.first.wait_for(timeout=10000)
        settle(page)
        messages[name] = alert.first.inner_text().replace("\n", " ")
    page.screenshot(path=str(SHOTS / "draw-upload-too-big.png"))
    TIMINGS["upload_messages"] = messages
    # and the app keeps working: remove the bad file and draw
    while remove.count():
        remove.first.click()
        settle(page)
    draw_digit(page, "1")


def chart_points(page) -> int:
    return page.evaluate("""() => {
        const plot = document.querySelector('.js-plotly-plot');
        return plot && plot.data && plot.data[0] ? plot.data[0].x.length : 0; }""")


def test_training_streams_charts_and_stops(server, browser, page):
    open_page(page, f"{server}/train", "Train")
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("30")  # long enough to still be training at Stop
    page.get_by_role("spinbutton", name="Training images", exact=True).fill("60000")
    start = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot');"
                           " return p && p.data && p.data[0] && p.data[0].x.length > 0; }", timeout=30000)
    first_points = time.perf_counter() - start
    # the chart keeps gaining points: sample it for 4 s and count the updates
    counts, stamps = [], []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 4:
        counts.append(chart_points(page))
        stamps.append(time.perf_counter())
        page.wait_for_timeout(50)
    changes = [t for t, a, b in zip(stamps[1:], counts, counts[1:], strict=False) if b > a]
    per_second = len(changes) / (stamps[-1] - stamps[0])
    assert counts[-1] > counts[0]
    page.screenshot(path=str(SHOTS / "train-running.png"), full_page=True)

    # meanwhile, a second tab draws and gets predictions from the shipped model
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_page(other, f"{server}/draw", "Draw")
    waits = []
    for digit in ("1", "7", "0", "1", "7", "0", "4"):
        waits.append(draw_digit(other, digit))
        settle(other)
        clear(other)
    other.context.close()

    # the run survives a reload of its page, then Stop ends it within about a second: pressed,
    # as a person would, once the reloaded page shows the run's charts again
    page.reload()
    stop = page.locator('[data-testid="stMain"]').get_by_role("button", name="Stop", exact=True)
    stop.wait_for(timeout=20000)
    page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot');"
                           " return p && p.data && p.data[0] && p.data[0].x.length > 0; }", timeout=30000)
    clicked = time.perf_counter()
    stop.click()
    page.get_by_text("Stopped", exact=False).first.wait_for(timeout=10000)
    stop_s = time.perf_counter() - clicked
    settle(page)
    page.screenshot(path=str(SHOTS / "train-stopped.png"), full_page=True)
    draws = {"first": round(waits[0]), "median": round(statistics.median(waits)), "all": [round(w) for w in waits]}
    TIMINGS["training"] = {"first_points_s": round(first_points, 2), "chart_updates_per_s": round(per_second, 2),
                           "draw_during_training_ms": draws, "stop_s": round(stop_s, 2)}


def corner_four() -> list[list[tuple[float, float]]]:
    """A small 4 in the top right corner of the canvas, where the toolbar used to swallow strokes."""
    return [[(0.6 + 0.35 * u, 0.02 + 0.4 * v) for u, v in points] for points in DIGITS["4"]]


def test_every_stroke_counts_and_the_latest_source_is_read(server, page, tmp_path):
    open_page(page, f"{server}/draw", "Draw")
    for _ in range(3):  # the bug lost the first stroke three times out of three
        canvas_ready(page)
        for points in corner_four():
            stroke(page, points)
            page.wait_for_timeout(400)
        page.screenshot(path=str(SHOTS / "draw-corner-4.png"))
        wait_for_prediction(page, "4", None)
        settle(page)
        clear(page)
    # a drawing, then an upload: the upload is read, and the page says so
    draw_digit(page, "1")
    digits, labels = sample_digits()
    seven = next(i for i, label in enumerate(labels) if label == 7)
    photo = tmp_path / "seven.png"
    photo.write_bytes(png_bytes(Image.fromarray(255 - np.asarray(Image.fromarray(digits[seven]).resize((200, 200))))))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
    wait_for_prediction(page, "7", "1")
    page.get_by_text("reading your upload, seven.png", exact=False).wait_for()
    # …then a new stroke: the drawing is read again, the upload stays where it is
    stroke(page, [(0.55, 0.1), (0.55, 0.9)])
    wait_for_prediction(page, "1", "7")
    page.get_by_text("reading your drawing", exact=False).wait_for()
    settle(page)
    # the drawing survives Draw -> Explain -> Draw, and Explain can go back to an MNIST digit
    go(page, "Explain")
    page.get_by_text("Your drawing from the Draw page.").wait_for()
    page.get_by_text("an MNIST test digit", exact=True).click()
    page.get_by_role("spinbutton", name="MNIST test digit number").wait_for()
    settle(page)
    page.get_by_text("your drawing", exact=True).click()
    page.get_by_text("Your drawing from the Draw page.").wait_for()
    go(page, "Draw")
    wait_for_prediction(page, "1", None)
    page.locator("canvas.upper-canvas").wait_for()
    inked = page.locator("canvas.dc-canvas.lower-canvas").evaluate("""c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 128; return n; }""")
    assert inked > 100  # the strokes are back on the canvas, not only in the prediction


@pytest.mark.parametrize("width, height", [(1280, 720), (390, 844)])
def test_projector_and_phone_views(server, browser, width, height):
    """The projector's 1280×720 and a phone's 390×844: nothing wider than the screen, text
    large enough, and on the phone the Prediction above the fold once a digit is drawn."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    try:
        for path, title in [("train", "Train"), ("explain", "Explain"), ("draw", "Draw")]:
            open_page(page, f"{server}/{path}", title)
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), path
            page.screenshot(path=str(SHOTS / f"{path}-{width}x{height}.png"))
        smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('[data-testid=stMain] p')]
            .filter(e => e.offsetParent).map(e => parseFloat(getComputedStyle(e).fontSize)))""")
        assert smallest >= 12
        draw_digit(page, "7")
        settle(page)
        page.evaluate("() => window.scrollTo(0, 0)")
        box = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").first.bounding_box()
        assert box["y"] + box["height"] <= height, box
        page.screenshot(path=str(SHOTS / f"draw-{width}x{height}.png"))
    finally:
        page.context.close()


def sign_in(page, key: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text("Teacher", exact=True).click()
    page.get_by_label("Teacher key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("You are the teacher", exact=False).wait_for(timeout=20000)
    settle(page)


def pick_live(page, timeout: float = 30) -> None:
    """Choose the live model in the sidebar picker once it appears there (without a reload)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
    deadline = time.time() + timeout
    while time.time() < deadline:
        box.click()
        option = page.get_by_role("option").filter(has_text="live:")
        if option.count():
            option.first.click()
            settle(page)
            if "live:" in picked(page):  # (a click as the picker refreshes itself can miss: try again)
                return
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(1000)
    raise AssertionError("the live model never appeared in the picker")


def picked(page) -> str:
    """The picker's current choice, as shown (the selectbox shows it as text or in its input)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
    inputs = box.locator("input")
    return box.inner_text() + " " + (inputs.first.input_value() if inputs.count() else "")


def test_a_class_the_teacher_trains_while_students_draw(browser, tmp_path):
    """One teacher and three students on a server with a teacher key: students can't start or
    stop the run, they draw with the live model while it trains, and when the run ends they are
    moved to its saved checkpoint and keep drawing."""
    key = "projector-42"
    with serving(COMMANDS["make run"], tmp_path, {"LENET_TEACHER_KEY": key}) as url:
        contexts = [browser.new_context(viewport={"width": 1280, "height": 720}) for _ in range(4)]
        teacher, *students = [c.new_page() for c in contexts]
        try:
            for student in students:  # on Draw before the run starts
                open_page(student, f"{url}/train", "Train")
                assert student.get_by_role("button", name="Start training").count() == 0
                student.get_by_text("The teacher controls training", exact=False).wait_for()
                go(student, "Draw")
            open_page(teacher, f"{url}/train", "Train")
            sign_in(teacher, key)
            assert key not in teacher.url and key not in teacher.locator("body").inner_text()
            teacher.get_by_role("spinbutton", name="Epochs", exact=True).fill("3")
            teacher.get_by_role("button", name="Start training").click()
            teacher.locator('[data-testid="stMain"]').get_by_role("button", name="Stop", exact=True).wait_for()
            for student in students:
                pick_live(student)
                draw_digit(student, "1")
                settle(student)
                assert "live: lenet5 in training" in picked(student)
            watcher = students[0]
            go(watcher, "Train")
            watcher.get_by_text("Only the teacher can stop this run.").wait_for(timeout=20000)
            assert watcher.locator('[data-testid="stMain"]').get_by_role("button", name="Stop").count() == 0
            go(watcher, "Draw")
            teacher.get_by_text("Finished; saved as", exact=False).first.wait_for(timeout=120000)
            settle(teacher)
            teacher.screenshot(path=str(SHOTS / "train-class-teacher.png"), full_page=True)
            for student in students:  # the run ended: "live" became the saved run, with no error
                assert "live:" in picked(student) or "run " in picked(student)
                deadline = time.time() + 15
                while "run " not in picked(student) and time.time() < deadline:
                    student.wait_for_timeout(500)
                assert "run " in picked(student), picked(student)
                settle(student)
                clear(student)
                draw_digit(student, "7")
            students[1].screenshot(path=str(SHOTS / "draw-class-student.png"), full_page=True)
        finally:
            for c in contexts:
                c.close()


# ---- see inside: the stepper, the softmax, the digit map, why this answer, watch it learn ----

def shown_within(page, action, text: str, timeout: float = 20) -> float:
    """Do `action` (a click), then wait until `text` is on the page and the run is over;
    returns the seconds a person waited for the new view."""
    start = time.perf_counter()
    action()
    try:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout * 1000)
    except Exception:
        page.screenshot(path=str(SHOTS.parent / "failed-view.png"), full_page=True)
        raise
    seconds = time.perf_counter() - start
    settle(page)
    return seconds


def pick_model(page, label: str) -> None:
    """Choose the sidebar picker's entry whose label contains `label`."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    page.get_by_role("option").filter(has_text=label).first.click()
    settle(page)
    assert label in picked(page), picked(page)


def slider_value(page, label: str) -> int:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label).locator("input[type=range]")
    return int(slider.input_value())


def column_becomes(page, column: int, timeout: float = 10) -> None:
    page.wait_for_function("c => [...document.querySelectorAll('[data-testid=\"stSlider\"] input[aria-label=Column]')]"
                           ".some(i => i.value === String(c))", arg=column, timeout=timeout * 1000)


def play_three_steps(page) -> float:
    """Play slides the window on by itself, one position a tick, and pausing stops it where it
    is. Returns the seconds between two of its steps."""
    row, column = slider_value(page, "Row"), slider_value(page, "Column")
    assert column + 3 < 28, "the test steps along one row"
    play = page.locator('[data-testid="stMain"] [data-testid="stCheckbox"]').filter(has_text="Play")
    play.click()
    column_becomes(page, column + 1)
    start = time.perf_counter()
    column_becomes(page, column + 3)
    per_step = (time.perf_counter() - start) / 2
    play.click()
    settle(page)
    paused = (slider_value(page, "Row"), slider_value(page, "Column"))
    assert paused[0] == row and paused[1] >= column + 3
    page.wait_for_timeout(2500)  # three ticks' worth: nothing moves any more
    assert (slider_value(page, "Row"), slider_value(page, "Column")) == paused
    return per_step


def see_inside(page, name: str) -> dict[str, float]:
    """Every new view of issue 8 on the picked model, each timed from the click that asks for it."""
    views = {}
    go(page, "Draw")
    if prediction(page) not in (None, "–"):
        clear(page)
    draw_digit(page, "7")
    settle(page)
    views["why this answer"] = shown_within(page, lambda: page.get_by_text("Why this answer?").click(),
                                            "Does it still read the same digit?")
    page.get_by_text("What the model reads").first.wait_for()  # caption of the occlusion row's first tile
    assert page.locator('[data-testid="stImage"]').count() >= 4 + 3 + 12
    page.screenshot(path=str(SHOTS / f"draw-why-{name}.png"), full_page=True)
    page.get_by_text("Why this answer?").click()  # off again: strokes stay quick
    settle(page)

    go(page, "Explain")
    assert page.get_by_role("radio", name="your drawing").is_checked()
    views["convolution stepper"] = shown_within(
        page, lambda: page.get_by_text("Step through a convolution").click(), "(25 products) =")
    main = page.locator('[data-testid="stMain"]')
    before = (slider_value(page, "Row"), slider_value(page, "Column"))
    start = time.perf_counter()
    main.get_by_role("button", name="Step →").click()
    page.wait_for_function("c => [...document.querySelectorAll('[data-testid=\"stSlider\"] input[aria-label=Column]')]"
                           ".some(i => i.value === String(c))", arg=before[1] + 1, timeout=10000)
    views["step"] = time.perf_counter() - start
    settle(page)
    assert (slider_value(page, "Row"), slider_value(page, "Column")) == (before[0], before[1] + 1)
    # a click on the output map picks that cell: row 20, column 9 of conv1's 28×28
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="click a cell")
    box = chart.locator(".nsewdrag").first.bounding_box()  # plotly's plot area
    cell_w, cell_h = box["width"] / 28, box["height"] / 28
    start = time.perf_counter()
    page.mouse.click(box["x"] + (9 + 0.5) * cell_w, box["y"] + (20 + 0.5) * cell_h)
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stSlider\"] input[aria-label=Row]')]"
                           ".some(i => i.value === '20')", timeout=10000)
    views["click on the map"] = time.perf_counter() - start
    settle(page)
    assert (slider_value(page, "Row"), slider_value(page, "Column")) == (20, 9)
    page.screenshot(path=str(SHOTS / f"explain-stepper-{name}.png"), full_page=True)
    views["play, one step"] = play_three_steps(page)
    views["conv2, six maps"] = shown_within(page, lambda: main.get_by_text("conv2 (C3)").click(),
                                            "6 maps × 25 products")
    views["pooling window"] = shown_within(page, lambda: main.get_by_text("pool1 (S2)").click(),
                                           "the largest of the four")
    views["softmax"] = shown_within(page, lambda: page.get_by_text("Scores to probabilities").click(),
                                    "cross-entropy = −log p(")
    page.screenshot(path=str(SHOTS / f"explain-softmax-{name}.png"), full_page=True)
    start = time.perf_counter()  # the map: until plotly has drawn the dots and the star
    page.get_by_text("The digits as a map").click()
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.data"
                           " && p.data.some(t => t.name === 'your drawing') && p.data.length === 11"
                           " && p.querySelectorAll('.point').length > 1000)", timeout=20000)
    views["digit map"] = time.perf_counter() - start
    settle(page)
    page.get_by_text("Each dot is a test digit").wait_for()
    page.screenshot(path=str(SHOTS / f"explain-map-{name}.png"), full_page=True)
    page.get_by_text("Feature maps and filters").click()  # back to the default view for the next visit
    settle(page)
    return {view: round(s, 2) for view, s in views.items()}


def test_see_inside_the_shipped_and_a_freshly_trained_model(server, page):
    """Issue 8's four parts in the browser, on the shipped lenet5 and then on a run trained here,
    each view timed from the click that asks for it (target ≤ 1 s: bench/browser.py)."""
    open_page(page, f"{server}/train", "Train")
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("2")
    page.get_by_role("spinbutton", name="Training images", exact=True).fill("60000")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Watch it learn · live", exact=False).first.wait_for(timeout=60000)
    page.get_by_text("Finished; saved as", exact=False).first.wait_for(timeout=180000)
    settle(page)
    page.get_by_text("Watch it learn, again").wait_for()
    page.get_by_text("What each conv2 channel looks for").wait_for()
    scrub = page.locator('[data-testid="stSlider"]').filter(has_text="Moment of training").locator("input[type=range]")
    scrub.focus()
    page.keyboard.press("Home")  # the first frame: the random filters
    page.get_by_text("after 0 samples", exact=False).first.wait_for(timeout=10000)
    settle(page)
    page.screenshot(path=str(SHOTS / "train-watch-it-learn.png"), full_page=True)

    timings = {"shipped lenet5": see_inside(page, "shipped")}
    pick_model(page, "run ")
    timings["fresh run"] = see_inside(page, "trained")
    TIMINGS["see_inside_s"] = timings  # the ≤ 1 s target is checked by bench/browser.py
    slow = {(model, view): s for model, views in timings.items() for view, s in views.items() if s > 3.0}
    assert not slow, f"views far slower than their 1 s target: {slow}"


# ---- lessons by link, 中文, and the class's own handwriting (issue 9) ----

LESSON_NOTE = "今天：为什么 sigmoid 学得这么慢？"
ENGLISH_ON_TRAIN = ("Start training", "No run yet", "Epochs", "Learning rate", "Model", "Saved runs",
                    "Share this setup")


def visible_text(page) -> str:
    return page.locator("body").inner_text()


def test_a_chinese_lesson_link_opens_set_up_with_its_controls_hidden(server, page):
    """A teacher's link in 中文: the recipe it sets, its note on every page, its hidden controls
    absent (the sidebar's picker and language switch too), a bad value ignored with a note, and
    not one English word of the app's own or a missing-string marker on Train, Draw and Explain."""
    query = urllib.parse.urlencode({"lang": "zh", "activation": "sigmoid", "optimizer": "sgd", "lr": "0.05",
                                    "epochs": "lots", "hide": "picker,lang,optimizer,saved,compare",
                                    "note": LESSON_NOTE})
    open_page(page, f"{server}/train?{query}", "训练")
    main, side = page.locator('[data-testid="stMain"]'), page.locator('[data-testid="stSidebar"]')
    page.get_by_text(LESSON_NOTE).wait_for()
    page.get_by_text("这个链接要求了 LeNet Lab 做不到的事").wait_for()  # epochs=lots, ignored
    assert "lots" in visible_text(page)
    main.get_by_role("button", name="开始训练").wait_for()  # the page's own part comes after the router's notes
    assert main.get_by_role("combobox", name="激活函数").input_value() == "sigmoid"
    assert float(main.get_by_role("spinbutton", name="学习率（峰值）").input_value()) == 0.05
    assert main.get_by_text("优化器", exact=True).count() == 0  # hidden, though the run will use sgd
    assert main.get_by_text("训练记录", exact=True).count() == 0 and main.get_by_text("比较训练记录").count() == 0
    assert side.get_by_text("模型", exact=True).count() == 0  # the picker
    assert side.get_by_text("Language · 语言").count() == 0 and side.get_by_text("English").count() == 0
    assert [t.split()[-1] for t in menu(page).all_inner_texts()] == ["Lab", "训练", "画数字", "讲解", "课堂"]
    text = visible_text(page)
    assert "⟦" not in text and not [w for w in ENGLISH_ON_TRAIN if w in text], text
    page.screenshot(path=str(SHOTS / "zh-train-lesson.png"), full_page=True)

    go(page, "画数字")  # Streamlit cleared the query; the lesson stays in the session and goes back in the address
    page.get_by_text(LESSON_NOTE).wait_for()
    page.wait_for_function("() => location.search.includes('lang=zh')", timeout=10000)
    assert "/draw?" in page.url and "epochs" not in page.url  # the ignored value is not carried on
    page.reload()  # a new session, from the address alone: the same lesson
    page.get_by_role("heading", name="画数字", exact=True).wait_for(timeout=30000)
    settle(page)
    page.get_by_text(LESSON_NOTE).wait_for()
    assert side.get_by_text("模型", exact=True).count() == 0
    draw_digit(page, "7", label="预测")
    settle(page)
    page.get_by_text("是 7 吗？").wait_for()
    assert "⟦" not in visible_text(page) and "Prediction" not in visible_text(page)
    page.screenshot(path=str(SHOTS / "zh-draw.png"), full_page=True)
    go(page, "讲解")
    page.get_by_text(LESSON_NOTE).wait_for()
    page.get_by_text("你在“画数字”页画的数字").first.wait_for()
    assert "⟦" not in visible_text(page)
    page.screenshot(path=str(SHOTS / "zh-explain.png"), full_page=True)


def test_share_this_setup_builds_a_link_that_opens_it_again(server, browser, page):
    """Set Train up, tick controls to hide, type a note: the link shown opens, in a new browser,
    the same recipe with those controls gone and the note on top."""
    open_page(page, f"{server}/train", "Train")
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("4")
    page.get_by_role("spinbutton", name="Epochs", exact=True).press("Enter")
    settle(page)
    page.get_by_role("button", name="Share this setup").click()
    share = page.locator('[data-testid="stPopoverBody"]')
    share.get_by_text("the model picker").click()
    share.get_by_text("Saved runs").click()
    share.get_by_role("textbox").fill("Four epochs today")
    share.get_by_role("textbox").press("Enter")
    settle(page)
    code = share.locator('[data-testid="stCode"]')
    page.wait_for_function("""() => [...document.querySelectorAll(
        '[data-testid="stPopoverBody"] [data-testid="stCode"]')].some(e => e.innerText.includes('note=Four'))""",
                           timeout=10000)
    link = code.inner_text().strip()  # once the rerun that took the note has redrawn it
    assert link.startswith(f"{server}/train?") and "epochs=4" in link, link
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        open_page(other, link, "Train")
        other.get_by_text("Four epochs today").wait_for()
        assert other.get_by_role("spinbutton", name="Epochs", exact=True).input_value() == "4", link
        side = other.locator('[data-testid="stSidebar"]')
        assert side.get_by_text("Model", exact=True).count() == 0
        assert other.locator('[data-testid="stMain"]').get_by_text("Saved runs", exact=True).count() == 0
        assert side.get_by_text("Language · 语言").count() == 1  # not ticked: still there
    finally:
        other.context.close()


def class_drawings(folder: Path, count: int) -> None:
    """`count` drawings in the class collection as students would have saved them: MNIST training
    digits redrawn on the app's canvas (bench/synth.py), read by to_mnist, labelled right."""
    from bench.synth import SIZES, STROKES, render
    from lenet import collection
    from lenet.data import load_mnist, pixels
    from lenet.preprocess import to_mnist
    train = load_mnist().train
    rng = np.random.default_rng(1)
    picks = rng.choice(len(train), count, replace=False)
    kinds = [(s, z) for s in STROKES for z in SIZES]
    for j, (index, digit) in enumerate(zip(picks.tolist(), pixels(train.x[picks]), strict=True)):
        label = int(train.y[index])
        drawing = render(digit, label, index, rng, "canvas", *kinds[j % len(kinds)])
        collection.save(folder, to_mnist(drawing.image).centred, label, canvas=drawing.image)


def test_the_class_collects_its_drawings_and_fine_tunes_the_model(browser, tmp_path):
    """A student confirms one answer and corrects another on Draw; the teacher's Class page shows
    them among the class's drawings, live; fine-tuning the shipped lenet5's classifier on them
    reports before and after; the export is a zip of PNGs and labels.csv."""
    import zipfile
    class_drawings(tmp_path / "class", 40)
    key = "projector-42"
    with serving(COMMANDS["make run"], tmp_path, {"LENET_TEACHER_KEY": key}) as url:
        contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
                    for _ in range(2)]
        teacher, student = [c.new_page() for c in contexts]
        try:
            open_page(student, f"{url}/class", "Class")
            student.get_by_text("sign in with the teacher key").wait_for()
            assert student.get_by_text("Drawings", exact=True).count() == 0
            go(student, "Draw")
            draw_digit(student, "7")
            settle(student)
            student.get_by_role("button", name="Yes, it's a 7").click()
            student.get_by_text("Thank you: saved").wait_for()
            clear(student)
            draw_digit(student, "1")
            settle(student)
            digits = student.locator('[data-testid="stButtonGroup"]').get_by_role("radio")
            assert digits.all_inner_texts() == [str(d) for d in range(10)]
            group = student.locator('[data-testid="stButtonGroup"] [role="radiogroup"]').bounding_box()
            for d in (0, 9):  # all ten in view: none scrolled out of its row
                box = digits.nth(d).bounding_box()
                assert group["x"] <= box["x"] and box["x"] + box["width"] <= group["x"] + group["width"], (d, box)
            digits.get_by_text("4", exact=True).click()
            student.get_by_text("Thank you: saved").wait_for()  # said: it is a 4, whatever the model read
            saved = sorted(json.loads(p.read_text())["label"] for p in (tmp_path / "class").glob("*.json"))
            assert len(saved) == 42 and saved.count(4) >= 1 and saved.count(7) >= 1
            records = [json.loads(p.read_text()) for p in (tmp_path / "class").glob("*.json")]
            assert all(set(r) == {"label", "predicted", "model", "saved"} for r in records)  # no name, no address
            assert {p.suffix for p in (tmp_path / "class").iterdir()} == {".png", ".json"}

            open_page(teacher, f"{url}/train", "Train")
            sign_in(teacher, key)
            go(teacher, "Class")
            metric = teacher.locator('[data-testid="stMetric"]').filter(has_text="Drawings")
            metric.wait_for()
            assert metric.locator('[data-testid="stMetricValue"]').inner_text().strip() == "42"
            teacher.get_by_text("drawn 4 · read 1 ✗").wait_for()  # the correction, newest first
            teacher.get_by_text("drawn 7 · read 7 ✓").first.wait_for()
            assert teacher.get_by_text("Confusion on our handwriting (42 drawings)").count() == 1
            with teacher.expect_download() as download:
                teacher.get_by_role("button", name="Download the 42 drawings").click()
            with zipfile.ZipFile(download.value.path()) as zipped:
                names = zipped.namelist()
                assert "labels.csv" in names and sum(n.endswith(".png") for n in names) >= 42
            teacher.get_by_text("the classifier only").click()
            teacher.get_by_role("button", name="Fine-tune lenet5").click()
            teacher.get_by_text("Fine-tuning started").wait_for(timeout=20000)
            go(teacher, "Train")
            teacher.get_by_text("Finished; saved as", exact=False).first.wait_for(timeout=240000)
            go(teacher, "Class")
            report = teacher.locator('[data-testid="stTable"]')
            report.wait_for(timeout=20000)
            table = report.inner_text()
            assert "MNIST test set (10,000)" in table and "our held-out drawings" in table, table
            mnist_after = float(table.split("MNIST test set (10,000)")[1].split("%")[1].split()[-1])
            assert mnist_after >= 99.0, table
            teacher.screenshot(path=str(SHOTS / "class.png"), full_page=True)
            teacher.locator('[data-testid="stSidebar"]').get_by_text("中文", exact=True).click()
            teacher.get_by_role("heading", name="课堂", exact=True).wait_for()
            settle(teacher)
            assert "⟦" not in visible_text(teacher) and "微调前" in visible_text(teacher)
            teacher.screenshot(path=str(SHOTS / "zh-class.png"), full_page=True)
        finally:
            for c in contexts:
                c.close()


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
    page.get_by_role("heading", name="画数字", exact=True).wait_for()
    settle(page)
