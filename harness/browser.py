"""What the browser tests do as a person would: open pages, click, draw with the mouse, and wait
for the script run each action caused, then check what a person sees.

Every wait is for a condition, with a bound; none is for a fixed time. Each script run begins
with a new_session message on the app's websocket (fragment runs too) and ends with a
script_finished; a script installed before the app's own (RUN_COUNTER) counts both as they
arrive, so `settle(page, since=mark)` waits for a run that began after the mark taken before the
action to have ended and been drawn; `settle(page)`, for the page to be quiet.
"""
from __future__ import annotations

import base64
import io
import itertools
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from lenet.files import ROOT

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
SHOTS = Path(os.environ.get("LENET_SHOTS", ROOT / "out" / "browser"))  # `make screenshots`: docs/screenshots
STRAY = ("DeltaGenerator(", "object at 0x", "Traceback (most recent call last)")  # Python text a person must never see
WAIT_MS = 60_000  # the bound on a wait for the app: far beyond what any step takes, even on a busy machine
TRAINING_MS = 600_000  # the bound on a wait for training to get somewhere
POLL_MS = 50  # settle() looks this often, on a timer: a tab in the background of its window gets no animation frames

# Counted from the messages, not from stApp's running state: a run queued behind another (the user's
# click behind a push's rerun) can follow it without the state leaving "running", and went uncounted.
# Runs are one at a time: each new_session begins the next, and a script_finished (but one that
# ends it early for a rerun: the rerun goes on) ends every run begun so far. __lenetDrawn is the
# count of runs ended, two tasks after the end arrives: the app's own handler of the message, after
# ours, queued React's render, which has run by then (not animation frames: a tab in the background
# of its window got none, and its settle() waited for ever). A socket that closes ends its runs.
RUN_COUNTER = """(() => { window.__lenetRuns = 0; window.__lenetDrawn = 0;
  const varint = (bytes, at) => { let value = 0, shift = 0, b;
    do { b = bytes[at.i++]; value += (b & 127) * 2 ** shift; shift += 7; } while (b & 128); return value; };
  const kind = (bytes) => {  // the ForwardMsg's type: 4 new_session; 6 script_finished, 2 its status "early for rerun"
    const at = { i: 0 };
    while (at.i < bytes.length) {
      const tag = varint(bytes, at), field = Math.floor(tag / 8), wire = tag % 8;
      if (field === 4) return "began";
      if (field === 6) return varint(bytes, at) === 2 ? "rerun" : "ended";
      if (wire === 0) varint(bytes, at);
      else if (wire === 2) { const size = varint(bytes, at); at.i += size; }  // `at.i += varint(…)` reads at.i first
      else if (wire === 1 || wire === 5) at.i += wire === 1 ? 8 : 4;
      else return "";
    }
    return ""; };
  const later = (f) => { const c = new MessageChannel(); c.port1.onmessage = () => f(); c.port2.postMessage(0); };
  const drawn = (upTo) => { window.__lenetDrawn = Math.max(window.__lenetDrawn, upTo); };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native { constructor(...args) { super(...args);
    this.addEventListener('message', e => {
      const found = e.data instanceof ArrayBuffer ? kind(new Uint8Array(e.data)) : "";
      if (found === "began") window.__lenetRuns += 1;
      const upTo = window.__lenetRuns;
      if (found === "ended") later(() => later(() => drawn(upTo)));
    });
    this.addEventListener('close', () => drawn(window.__lenetRuns)); } };
})();"""
NOT_RUNNING = """() => { const app = document.querySelector('[data-testid="stApp"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'; }"""


def mark(page) -> int:
    """How many script runs this page has seen: take it before an action, then settle(page, since=it)."""
    return page.evaluate("() => window.__lenetRuns || 0")


def settle(page, since: int | None = None) -> None:
    """Wait for the run an action caused (one that began after `since`) to end, then check that the
    page shows no exception box and no Python object text."""
    if since is None:  # quiet: every run begun has ended, and the page says so
        done = f"(window.__lenetDrawn || 0) >= (window.__lenetRuns || 0) && ({NOT_RUNNING})()"
    else:  # a run begun after the mark has ended, and the page is quiet or a later run has ended too (a timer's)
        done = f"(window.__lenetDrawn || 0) > {since} && (({NOT_RUNNING})() || window.__lenetDrawn > {since} + 1)"
    page.wait_for_function(f"() => {done}", timeout=WAIT_MS, polling=POLL_MS)
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()
    text = page.locator("body").inner_text()
    assert not any(stray in text for stray in STRAY), [stray for stray in STRAY if stray in text]


def act(page, action) -> None:
    """Do `action` (a click, a key), and settle on the run it causes."""
    since = mark(page)
    action()
    settle(page, since)


def menu(page):
    """The app's own menu in the sidebar (ui/common/router.py draws it with st.page_link)."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]')


def go(page, title: str) -> None:
    """Click a page in the sidebar menu, as a user does, and wait for it."""
    since = mark(page)
    menu(page).get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=WAIT_MS)
    settle(page, since)  # the new page's heading comes from the run the click caused: wait for its end


def open_page(page, url: str, title: str) -> float:
    """Go to `url` and wait for its page titled `title` to be drawn; returns the seconds it took."""
    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=WAIT_MS)
    settle(page, 0)  # as in go(): the heading is drawn by the run the navigation caused (a new page counts from 0)
    return time.perf_counter() - start


def prediction(page, label: str = "Prediction") -> str | None:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    if metric.count() == 0:
        return None
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def wait_for_prediction(page, expected: str, label: str = "Prediction") -> None:
    """Wait until the Prediction shows `expected`."""
    page.wait_for_function("""([label, expected]) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.includes(label)
                   && m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === expected)""",
                           arg=[label, expected], timeout=WAIT_MS)


CANVASES = """() => { const all = root => [...root.querySelectorAll('*')]
        .flatMap(e => e.shadowRoot ? [e, ...all(e.shadowRoot)] : [e]);
    return all(document).filter(e => e.matches('canvas.upper-canvas')).map(c => { const chain = [];
        for (let n = c; n; n = n.parentNode && n.parentNode.nodeType === 11 ? n.parentNode.host : n.parentNode) {
            if (n.nodeType !== 1) continue;
            const a = n.attributes; const keep = [...a].filter(x => /^(data-|class$|id$|key$)/.test(x.name))
                .map(x => x.name + '=' + String(x.value).slice(0, 40));
            chain.push(n.tagName.toLowerCase() + (keep.length ? '[' + keep.join(' ') + ']' : ''));
        }
        return chain.slice(0, 16).join(' < '); }); }"""


def canvas_ready(page) -> None:
    """Wait for the canvas to be mounted, styled and still: the page moves it down once, to make
    room for its toolbar (ui/draw/canvas.py), and a stroke aimed before that would miss. There must be
    one canvas: a second, stale one after Clear was a bug (pages/draw.py's clear() says why)."""
    from playwright.sync_api import expect
    try:
        expect(page.locator("canvas.upper-canvas")).to_have_count(1, timeout=WAIT_MS)
    except AssertionError:
        page.screenshot(path=str(SHOTS.parent / "failed-canvas.png"), full_page=True)
        raise AssertionError(f"not one canvas: {page.evaluate(CANVASES)}") from None
    page.wait_for_function("""() => [...document.querySelectorAll('*')].some(h => h.shadowRoot
        && h.shadowRoot.querySelector('style[data-lenet]'))""", timeout=WAIT_MS)
    page.wait_for_function("""() => { const c = document.querySelector('canvas.upper-canvas')
        || [...document.querySelectorAll('*')]
           .map(h => h.shadowRoot && h.shadowRoot.querySelector('canvas.upper-canvas')).find(Boolean);
        if (!c) return false;
        const top = c.getBoundingClientRect().top;
        const still = window.__lenetCanvasTop === top;
        window.__lenetCanvasTop = top;
        return still; }""", polling=200, timeout=WAIT_MS)


def in_middle(locator) -> dict:
    """Scroll `locator` to the middle of the window and give its box, for the mouse to point in. Not
    Playwright's scroll_into_view_if_needed: that leaves an element already barely in view where it
    is, which may be under Streamlit's header (fixed at the top, and it takes the pointer's events)."""
    locator.evaluate("e => e.scrollIntoView({block: 'center', inline: 'center'})")
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    covered = locator.page.evaluate(f"() => !!document.elementFromPoint({x}, {y})?.closest('[data-testid=stHeader]')")
    assert not covered, "Streamlit's header covers the element"
    return box


def stroke(page, points: list[tuple[float, float]]) -> None:
    """Draw one mouse stroke through canvas-relative points (0..1 of its size), and wait for the
    run it causes (the canvas sends its picture on mouse-up)."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    xy = [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in points]
    since = mark(page)
    page.mouse.move(*xy[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in itertools.pairwise(xy):
        for t in np.linspace(0, 1, 8)[1:]:
            page.mouse.move(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
    page.mouse.up()
    settle(page, since)


DIGITS = {
    "1": [[(0.5, 0.15), (0.5, 0.85)]],
    "7": [[(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)]],
    "0": [[(0.5 + 0.22 * np.sin(a), 0.5 - 0.32 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 24)]],
    "4": [[(0.55, 0.15), (0.25, 0.6), (0.75, 0.6)], [(0.6, 0.35), (0.6, 0.88)]],
}

WATCH = """([expected, label]) => { window._up = null; window._seen = null;
    document.addEventListener('mouseup', () => { window._up = performance.now(); }, {capture: true, once: true});
    const seen = new MutationObserver(() => {
        const m = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e => e.innerText.includes(label));
        const v = m && m.querySelector('[data-testid="stMetricValue"]');
        const value = v && v.innerText.trim();
        if (window._up && value && /^[0-9]$/.test(value) && (expected === null || value === expected)) {
            window._seen = performance.now(); seen.disconnect(); }
    });
    seen.observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def draw_digit(page, digit: str, label: str = "Prediction", expect: str | None = "same") -> float:
    """Draw `digit` with the mouse; return ms from the last mouse-up to the Prediction (metric
    `label`) showing a digit: `digit` itself (expect="same"), or any digit (expect=None, for a
    model whose answer the test reads off the page). Timed inside the page (a MutationObserver),
    so Playwright's round trips don't count."""
    canvas_ready(page)
    strokes = DIGITS[digit]
    for points in strokes[:-1]:
        stroke(page, points)
    page.evaluate(WATCH, [digit if expect == "same" else expect, label])
    stroke(page, strokes[-1])
    try:
        page.wait_for_function("() => window._seen", timeout=WAIT_MS)
    except Exception:
        page.screenshot(path=str(SHOTS.parent / f"failed-draw-{digit}.png"))
        raise AssertionError(f"drew {digit}, but the Prediction shows {prediction(page, label)!r}") from None
    return page.evaluate("() => window._seen - window._up")


INKED = """() => { const c = document.querySelector('canvas.dc-canvas.lower-canvas')
        || [...document.querySelectorAll('*')]
           .map(h => h.shadowRoot && h.shadowRoot.querySelector('canvas.dc-canvas.lower-canvas')).find(Boolean);
    if (!c) return null;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 128; return n; }"""


def inked(page) -> int | None:
    """How many pixels of the canvas hold ink (None before there is a canvas)."""
    return page.evaluate(INKED)


def clear(page) -> None:
    """Press Clear once; then the canvas is empty, the Prediction is "–", and nothing of the old
    drawing is left anywhere on the page (a person would see it too)."""
    act(page, lambda: page.get_by_role("button", name="Clear").click())
    checks = [("the Prediction is –", lambda: wait_for_prediction(page, "–")),
              ("the prompt is back", lambda: page.get_by_text("Draw a digit on the black canvas").wait_for(
                  timeout=WAIT_MS)),
              ("the canvas is empty", lambda: page.wait_for_function(f"() => ({INKED})() === 0", timeout=WAIT_MS)),
              ("what the model saw is gone", lambda: page.get_by_text("What the model sees").wait_for(
                  state="detached", timeout=WAIT_MS))]
    for what, check in checks:
        try:
            check()
        except Exception:
            page.screenshot(path=str(SHOTS.parent / "failed-clear.png"))
            raise AssertionError(f"Clear was pressed, but not yet: {what}") from None
    canvas_ready(page)


BARS = """() => { const p = [...document.querySelectorAll('.js-plotly-plot')]
    .find(p => p.layout && p.layout.title && String(p.layout.title.text).includes('Probability of each digit'));
    return p ? [...p.data[0].y] : null; }"""


def probabilities(page) -> list[float]:
    """The ten bars of the Draw page's probability chart once they hold a drawing's answer (percent,
    summing to 100), as plotly holds them. The Prediction arrives in the same run just before its
    chart, which plotly then draws in its own time: read too soon, the bars were still the empty
    chart's zeros beside a Prediction of 7 (seen once on a loaded machine)."""
    settle(page)
    page.wait_for_function(f"() => {{ const y = ({BARS})(); return y && y.reduce((a, b) => a + b, 0) > 50; }}",
                           timeout=WAIT_MS)
    return page.evaluate(BARS)


def canvas_picture(page) -> np.ndarray:
    """The canvas as drawn, (H, W, 4) uint8 RGBA: the picture the page sent to the server."""
    url = page.locator("canvas.dc-canvas.lower-canvas").evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def picker(page):
    return page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')


def picked(page) -> str:
    """The picker's current choice, as shown (the selectbox shows it as text or in its input)."""
    inputs = picker(page).locator("input")
    return picker(page).inner_text() + " " + (inputs.first.input_value() if inputs.count() else "")


def wait_for_picked(page, label: str) -> None:
    """Wait until the picker shows an entry whose label contains `label` (as text or in its input)."""
    try:
        page.wait_for_function("""n => [...document.querySelectorAll(
            '[data-testid="stSidebar"] [data-testid="stSelectbox"]')].some(b => b.innerText.includes(n)
            || [...b.querySelectorAll('input')].some(i => i.value.includes(n)))""", arg=label, timeout=WAIT_MS)
    except Exception:
        page.screenshot(path=str(SHOTS.parent / "failed-picked.png"), full_page=True)
        shown = [picker(page).nth(i).inner_text() for i in range(picker(page).count())]
        raise AssertionError(f"the picker never showed {label!r}; it shows {shown}") from None


def pick_model(page, label: str) -> None:
    """Open the sidebar picker once and choose the entry whose label contains `label`."""
    picker(page).click()
    act(page, lambda: page.get_by_role("option").filter(has_text=label).first.click())
    assert label in picked(page), picked(page)


def sign_in(page, key: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text("Teacher", exact=True).click()
    page.get_by_label("Teacher key").fill(key)
    act(page, lambda: page.get_by_role("button", name="Sign in").click())
    page.get_by_text("You are the teacher", exact=False).wait_for(timeout=WAIT_MS)


def chart_points(page) -> int:
    return page.evaluate("""() => {
        const plot = document.querySelector('.js-plotly-plot');
        return plot && plot.data && plot.data[0] ? plot.data[0].x.length : 0; }""")


# wait_for_function(GROWING, arg=n): the chart has more than n points (a plotly div drawn anew is a moment without)
GROWING = """n => { const p = document.querySelector('.js-plotly-plot');
    return p && p.data && p.data[0] && p.data[0].x.length > n; }"""


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def visible_text(page) -> str:
    return page.locator("body").inner_text()


def shot(page, name: str, full: bool = False) -> None:
    """A screenshot for the docs, taken when asked for (`make screenshots` sets LENET_SHOTS): each
    costs the browser a full render, and a test run doesn't need them (a failure saves its own)."""
    if os.environ.get("LENET_SHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)
