"""The teacher checks the class's labels in a real browser: relabels one drawing, leaves another out,
and undoes that; the collection on disk and the page follow each step. Then a click on a cell of
the confusion matrix lists exactly that cell's drawings. A server of its own, so the
shared class server's collection is left as the other tests expect it."""
from __future__ import annotations

from harness.browser import WAIT_MS, act, go, in_middle, open_page, settle, shot, sign_in
from harness.servers import app_server
from lenet.checkpoints import load_model
from lenet.classroom import collection, moderation
from lenet.data import load_mnist, pixels
from lenet.files import CHECKPOINT_DIR
from tests.browser.conftest import TEACHER_KEY
from ui.classroom.collection import answers

DRAWINGS = 12


def on_disk(folder) -> dict[str, int]:
    return {item.id: item.label for item in collection.items(folder)}


def test_the_teacher_relabels_leaves_out_and_undoes(tmp_path, new_page):
    runs, test = tmp_path / "runs", load_mnist().test
    folder = runs / "class"
    images = pixels(test.x[:DRAWINGS])
    saved = [collection.save(folder, images[i], int(test.y[i]), predicted=int(test.y[i])) for i in range(DRAWINGS)]
    newest, second = saved[-1], saved[-2]
    with app_server(runs, env={"LENET_TEACHER_KEY": TEACHER_KEY}) as server:
        page = new_page()
        open_page(page, f"{server.url}/train", "Train")
        sign_in(page, TEACHER_KEY)
        go(page, "Class")
        page.get_by_text("Check the class's labels").wait_for(timeout=WAIT_MS)
        settle(page)
        new = (newest.label + 1) % 10
        menu = page.get_by_label("Label", exact=True).first  # the newest drawing's
        menu.scroll_into_view_if_needed()
        menu.click()
        act(page, lambda: page.get_by_role("option", name=str(new), exact=True).click())
        page.get_by_text(f"a student said {newest.label}", exact=False).first.wait_for(timeout=WAIT_MS)
        assert on_disk(folder)[newest.id] == new
        act(page, lambda: page.get_by_role("button", name="Leave out").nth(1).click())  # the second newest
        assert second.id not in on_disk(folder) and len(on_disk(folder)) == DRAWINGS - 1
        page.get_by_text(f"Matching: {DRAWINGS - 1};", exact=False).wait_for(timeout=WAIT_MS)
        act(page, lambda: page.get_by_role("button", name="Undo the last change: a drawing left out").click())
        page.get_by_text(f"Matching: {DRAWINGS};", exact=False).wait_for(timeout=WAIT_MS)
        assert on_disk(folder)[second.id] == second.label and on_disk(folder)[newest.id] == new
        assert [e.action for e in moderation.edits(folder)] == ["relabel", "delete", "undo"]
        # the page's live part (refreshed every 3 s) shows all 12 again before pointing: its grid of
        # drawings grows when it does, and moves the chart below it
        page.locator('[data-testid="stMetric"]').filter(has_text="Drawings").filter(
            has_text=str(DRAWINGS)).wait_for(timeout=WAIT_MS)
        settle(page)
        click_cell(page, new, newest.label)  # labelled `new` now, and still read as what it is
        expected = in_cell(folder, new, newest.label)
        assert expected == 1
        # waited for, not asserted at once: the Class page's own refresh (every 3 s) is also a script run
        page.get_by_text(f"Matching: {expected};", exact=False).wait_for(timeout=WAIT_MS)
        menus = page.locator('[data-testid="stSelectbox"]')
        for label, digit in (("Labelled", new), ("Read by the model as", newest.label)):
            assert menus.filter(has_text=label).locator("input").input_value() == str(digit), label
        listed = page.get_by_text(f"labelled {new} · read {newest.label}", exact=False)
        assert listed.count() == expected
        page.get_by_role("heading", name="Check the class's labels").evaluate("h => h.scrollIntoView({block: 'start'})")
        shot(page, "class-moderate")


def in_cell(folder, true: int, read: int) -> int:
    """How many drawings are labelled `true` (the teacher's corrections applied) and read as `read`
    by the shipped lenet5, the Class page's model: the cell's own count, from the files."""
    drawings = collection.read(folder)
    said = answers(load_model(CHECKPOINT_DIR / "lenet5.pt")[0], drawings.images)
    return int(((drawings.labels == true) & (said == read)).sum())


def click_cell(page, true: int, read: int) -> None:
    """Click the confusion cell (true, read) of "Check the class's labels", as a person does: point
    at it with the mouse (its hover label shows), then click (point true × 10 + read of the chart's
    clickable layer)."""
    box = in_middle(page.locator(".st-key-moderate_cell .scatterlayer .point").nth(true * 10 + read))
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)  # a person points first: plotly clicks the point that its hover found
    page.locator(".st-key-moderate_cell .hoverlayer .hovertext").filter(
        has_text=f"true {true}, predicted {read}").wait_for(timeout=WAIT_MS)
    act(page, lambda: page.mouse.click(x, y))
