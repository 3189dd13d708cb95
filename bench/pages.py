"""Pages and drawing in a real browser, in fixed states: like for like with another checkout.

    python -m bench.pages [--loads 5] [--images 6000] [--draws 8] [--rounds 2] [--compare OTHER_CHECKOUT]

tests/browser measures page loads on the server it shares between tests, so what the Train page
shows there depends on which tests ran before it (a finished run's results, film and saved runs,
or nothing). This bench fixes the state: a fresh server (`make run`'s, an empty runs folder) and
one Debian chromium tab, as a returning visitor has it (the tab stays open, its cache warm).
1. Each page is opened once (warming the server's caches), then --loads times: seconds from
   `goto` until the page's title is drawn and its script run has ended (tests/browser's open_page).
2. The Train page starts a run of 1 epoch on --images images and waits until it has finished.
3. The Train page, now showing that finished run (results, mistakes, film, saved runs, compare),
   is opened --loads times the same way.
4. The projector's tab starts a long run (100 epochs of 60,000) and stays on Train, its charts
   moving; a second tab opens Draw and draws --draws digits with the mouse, each on a freshly
   opened page: ms from the last mouse-up to the Prediction, timed inside the page
   (tests/browser's draw_digit). Then Stop.
Reported: the median and the slowest load of each, over --rounds fresh servers. --compare PATH
runs another checkout's app too (its own .venv, started from PATH), in turns with this one (the
order alternates between rounds, so a machine that slows down slows both).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from harness.browser import CHROMIUM, FLAGS, RUN_COUNTER, draw_digit, open_page
from harness.servers import app_server
from lenet.files import ROOT

PAGES = [("", "LeNet Lab"), ("train", "Train"), ("draw", "Draw"), ("explain", "Explain"), ("class", "Class")]
TRAINING_MS = 600_000  # the bound on the short run


def start_run(page, url: str, epochs: int, images: int) -> None:
    """Start a run of `epochs` epochs on `images` images from the Train page."""
    open_page(page, f"{url}/train", "Train")
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill(str(epochs))
    page.get_by_role("spinbutton", name="Training images", exact=True).fill(str(images))
    page.get_by_role("spinbutton", name="Training images", exact=True).press("Tab")
    page.get_by_role("button", name="Start training").click()


def draws_during_training(browser, page, url: str, draws: int) -> list[float]:
    """ms from mouse-up to Prediction for `draws` digits drawn in a second tab while `page` trains."""
    start_run(page, url, 100, 60_000)
    stop = page.locator('[data-testid="stMain"]').get_by_role("button", name="Stop", exact=True)
    stop.wait_for(timeout=TRAINING_MS)
    other = browser.new_context(viewport={"width": 1280, "height": 720})
    other.add_init_script(RUN_COUNTER)
    tab = other.new_page()
    waits = []
    for digit in ("1", "7", "4", "0") * (draws // 4 + 1):
        open_page(tab, f"{url}/draw", "Draw")
        waits.append(draw_digit(tab, digit))
        if len(waits) == draws:
            break
    other.close()
    stop.click()
    page.get_by_text("Stopped", exact=False).first.wait_for(timeout=TRAINING_MS)
    return waits


def measure(browser, app: Path, loads: int, images: int, draws: int) -> dict[str, list[float]]:
    """On a fresh server of the checkout `app`: seconds per load of each page, then of Train after a
    run; then ms per drawing during training."""
    seconds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as runs, app_server(Path(runs), app=app) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.add_init_script(RUN_COUNTER)
        page = context.new_page()
        for path, title in PAGES:
            open_page(page, f"{server.url}/{path}", title)  # the first visit warms the caches
            seconds[title] = [open_page(page, f"{server.url}/{path}", title) for _ in range(loads)]
        start_run(page, server.url, 1, images)
        page.get_by_text("Finished; saved as", exact=False).first.wait_for(timeout=TRAINING_MS)
        open_page(page, f"{server.url}/train", "Train")  # its first showing computes what it caches
        seconds["Train, a finished run"] = [open_page(page, f"{server.url}/train", "Train") for _ in range(loads)]
        seconds["Draw during training (ms)"] = draws_during_training(browser, page, server.url, draws)
        context.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=5, help="loads of each page measured")
    parser.add_argument("--images", type=int, default=6000, help="the run's training images (1 epoch)")
    parser.add_argument("--draws", type=int, default=8, help="digits drawn during training")
    parser.add_argument("--rounds", type=int, default=2, help="fresh servers per checkout")
    parser.add_argument("--compare", type=Path, help="another checkout: run its app too, in turns")
    args = parser.parse_args()
    apps = {"baseline": args.compare.resolve(), "current": ROOT} if args.compare else {"current": ROOT}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        results: dict[str, dict[str, list[float]]] = {label: {} for label in apps}
        for r in range(args.rounds):
            for label in list(apps)[::1 if r % 2 == 0 else -1]:
                for title, loads in measure(browser, apps[label], args.loads, args.images, args.draws).items():
                    results[label].setdefault(title, []).extend(loads)
        browser.close()
    print(f"\nA page ready after navigation (s), median / slowest of {args.rounds} × {args.loads} loads in one warm "
          f"tab; a Draw prediction during training (ms), median / slowest of {args.rounds} × {args.draws}\n")
    print("| page | " + " | ".join(apps) + " |")
    print("|---|" + "---|" * len(apps))
    for title in results["current"]:
        shown = "{:.0f} / {:.0f}" if "(ms)" in title else "{:.2f} / {:.2f}"
        cells = [shown.format(statistics.median(r[title]), max(r[title])) for r in results.values()]
        print(f"| {title} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
