"""Fool it, and know when it doesn't know, in a real browser: a student attacks their own drawing with
FGSM and with "make it read 8", sees the perturbation and the flipped answer, compares two models'
ε curves (the numbers on the chart are the models' own), and a scribble is flagged as not a digit."""
from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

from harness.browser import WAIT_MS, act, clear, draw_digit, go, open_page, prediction, settle, shot, stroke
from lenet.checkpoints import load_model
from lenet.data import load_mnist
from lenet.files import CHECKPOINT_DIR
from lenet.inside.adversarial import CURVE_DIGITS, accuracy_curve

ZIGZAG = [(0.15, 0.2), (0.85, 0.3), (0.15, 0.45), (0.85, 0.55), (0.15, 0.7), (0.85, 0.8)]  # not a digit to any model


def eps_to_the_end(page) -> None:
    """The ε slider to its largest value (0.5), with the keyboard, as a person can."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="ε: how far").get_by_role("slider")
    slider.focus()
    act(page, lambda: page.keyboard.press("End"))
    expect(slider).to_have_value("0.5", timeout=WAIT_MS)


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def attack_own_drawing(page) -> None:
    """On Draw: a 7, Fool it, FGSM at ε 0.5, then the targeted attack to 8."""
    go(page, "Draw")
    draw_digit(page, "7")
    act(page, lambda: page.get_by_text("Fool it:", exact=False).click())
    page.get_by_text("the change, amplified ×", exact=False).first.wait_for(timeout=WAIT_MS)
    assert metric(page, "Before") == "7"
    eps_to_the_end(page)
    page.get_by_text("Fooled: it read 7, now it reads", exact=False).wait_for(timeout=WAIT_MS)
    assert metric(page, "After the attack") != "7"
    shot(page, "draw-fool-fgsm", full=True)
    act(page, lambda: page.get_by_text("Targeted: make it read", exact=False).click())
    page.get_by_text("it read 8", exact=False).first.wait_for(timeout=WAIT_MS)  # 8 is offered first
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Make it read")
    box.scroll_into_view_if_needed()
    box.get_by_role("combobox").click()
    act(page, lambda: page.get_by_role("option", name="3", exact=True).click())
    page.get_by_text("The smallest ε that makes it read 3", exact=False).wait_for(timeout=WAIT_MS)
    assert metric(page, "After the attack") == "3"  # at ε 0.5, and the smallest ε is shown under it
    shot(page, "draw-fool-targeted", full=True)


def chart_lines(page) -> dict[str, list[float]]:
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.data"
                           " && p.data.length >= 2 && p.data[0].x && p.data[0].x.length === 7)", timeout=WAIT_MS)
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')]
        .find(p => p.data && p.data.length >= 2).data.map(d => [d.name, Array.from(d.y)]))""")


def compare_curves(page) -> None:
    """On Explain: the view *Fool the network*, with mlp added to the picked lenet5."""
    go(page, "Explain")
    act(page, lambda: page.get_by_text("Fool the network", exact=True).click())
    page.get_by_text("Models on the chart").wait_for(timeout=WAIT_MS)
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Models on the chart")
    box.scroll_into_view_if_needed()
    box.locator("input").click()
    act(page, lambda: page.get_by_role("option").filter(has_text="mlp").first.click())
    page.keyboard.press("Escape")
    lines = chart_lines(page)
    test = load_mnist().test.head(CURVE_DIGITS)
    for name in ("lenet5", "mlp"):
        shown = next(v for k, v in lines.items() if k.startswith(name + " ·"))
        own = accuracy_curve(load_model(CHECKPOINT_DIR / f"{name}.pt")[0], test.x, test.y)
        assert shown == pytest.approx([100 * a for a in own], abs=1e-9), (name, shown, own)
        assert shown == sorted(shown, reverse=True)
    shot(page, "explain-fool-curves", full=True)


@pytest.mark.mnist
def test_a_student_fools_the_network_and_sees_it_doubt_a_scribble(server, page):
    torch.set_num_threads(1)  # the server shares the two cores; the test's own curves are small
    open_page(page, f"{server}/draw", "Draw")
    attack_own_drawing(page)
    act(page, lambda: page.get_by_text("Fool it:", exact=False).click())  # off again
    clear(page)
    stroke(page, ZIGZAG)
    page.get_by_text("This doesn't look like a digit to the model.", exact=False).wait_for(timeout=WAIT_MS)
    assert prediction(page) not in (None, "–")  # the guess is still shown
    settle(page)
    shot(page, "draw-not-a-digit")
    compare_curves(page)
