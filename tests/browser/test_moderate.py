"""The teacher checks the class's labels in a real browser: relabels one drawing, leaves another out,
and undoes that; the collection on disk and the page follow each step. A server of its own, so the
shared class server's collection is left as the other tests expect it."""
from __future__ import annotations

from lenet.classroom import collection, moderation
from lenet.data import load_mnist, pixels
from tests.browser.conftest import TEACHER_KEY
from tests.browser.helpers import WAIT_MS, act, go, open_page, settle, shot, sign_in
from tests.servers import app_server

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
        page.get_by_text(f"{DRAWINGS - 1} drawings match", exact=False).wait_for(timeout=WAIT_MS)
        shot(page, "class-moderate", full=True)
        act(page, lambda: page.get_by_role("button", name="Undo the last change: a drawing left out").click())
        page.get_by_text(f"{DRAWINGS} drawings match", exact=False).wait_for(timeout=WAIT_MS)
        assert on_disk(folder)[second.id] == second.label and on_disk(folder)[newest.id] == new
        assert [e.action for e in moderation.edits(folder)] == ["relabel", "delete", "undo"]
