"""Train in a real browser: Start streams the live charts, a second tab draws meanwhile, the run
survives a reload of its page, and Stop ends it."""
import statistics
import time

from harness.browser import (
    GROWING,
    WAIT_MS,
    chart_points,
    clear,
    draw_digit,
    mark,
    open_page,
    settle,
    shot,
    visible_text,
)


def test_training_streams_charts_and_stops(server, page, new_page, timings):
    open_page(page, f"{server}/train", "Train")
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("100")  # still training at Stop, on any machine
    page.get_by_role("spinbutton", name="Training images", exact=True).fill("60000")
    start = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(GROWING, arg=0, timeout=WAIT_MS)
    first_points = time.perf_counter() - start
    page.wait_for_function(GROWING, arg=chart_points(page), timeout=WAIT_MS)  # and it keeps gaining points
    page.get_by_text("Watch it learn · live", exact=False).first.wait_for(timeout=WAIT_MS)  # the filters, filmed
    counts, stamps = [], []  # how often the chart moves: sampled for 4 s, recorded for bench/browser.py
    while not stamps or stamps[-1] - stamps[0] < 4:
        counts.append(chart_points(page))
        stamps.append(time.perf_counter())
        page.wait_for_timeout(50)
    changes = sum(b > a for a, b in zip(counts, counts[1:], strict=False))
    shot(page, "train-running", full=True)

    other = new_page()  # meanwhile, a second tab draws and gets predictions from the shipped model
    open_page(other, f"{server}/draw", "Draw")
    waits = []
    for digit in ("1", "7", "4"):
        waits.append(draw_digit(other, digit))
        clear(other)

    page.reload()  # the run survives a reload of its page; then Stop, pressed once it shows the run again
    stop = page.locator('[data-testid="stMain"]').get_by_role("button", name="Stop", exact=True)
    stop.wait_for(timeout=WAIT_MS)
    page.wait_for_function(GROWING, arg=0, timeout=WAIT_MS)
    settle(page)
    since, clicked = mark(page), time.perf_counter()
    stop.click()
    page.get_by_text("Stopped", exact=False).first.wait_for(timeout=WAIT_MS)
    stop_s = time.perf_counter() - clicked  # until a person reads "Stopped"; then the run's end
    settle(page, since)
    said = visible_text(page)
    assert said.count("stopped by you") == 1 and "(stopped" not in said  # said once, in the status line
    shot(page, "train-stopped", full=True)
    timings["training"] = {"first_points_s": round(first_points, 2),
                           "chart_updates_per_s": round(changes / (stamps[-1] - stamps[0]), 2),
                           "draw_during_training_ms": {"first": round(waits[0]),
                                                       "median": round(statistics.median(waits)),
                                                       "all": [round(w) for w in waits]},
                           "stop_s": round(stop_s, 2)}
