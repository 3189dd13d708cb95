"""The teacher's corrections: relabel, leave out and undo, kept in an append-only log that the
collection, its export and fine-tuning all read through; nothing is deleted or rewritten."""
from __future__ import annotations

import csv
import io
import zipfile

import pytest
import torch

from lenet.checkpoints import load_model
from lenet.classroom import collection, moderation
from lenet.classroom.finetune import plan
from lenet.files import CHECKPOINT_DIR
from tests.conftest import at_once


@pytest.fixture
def saved(tmp_path, digits):
    images, labels = digits
    return [collection.save(tmp_path, images[i], int(labels[i]), predicted=int(labels[i])) for i in range(20)]


def test_relabel_delete_and_undo_walk_back_one_correction_at_a_time(tmp_path, saved):
    first, second = saved[0], saved[1]
    new = (first.label + 1) % 10
    moderation.relabel(tmp_path, first.id, new)
    moderation.delete(tmp_path, second.id)
    shown = {item.id: item for item in collection.items(tmp_path)}
    assert second.id not in shown and len(shown) == 19
    assert (shown[first.id].label, shown[first.id].original) == (new, first.label)
    drawings = collection.read(tmp_path)
    assert (drawings.relabelled, drawings.excluded, len(drawings.items)) == (1, 1, 19)
    assert drawings.labels[[i.id for i in drawings.items].index(first.id)] == new

    assert moderation.undo(tmp_path).action == "delete"  # the latest first: the drawing is back as it was
    back = {item.id: item for item in collection.items(tmp_path)}
    assert back[second.id] == second and back[first.id].label == new
    assert moderation.undo(tmp_path).action == "relabel"
    assert collection.items(tmp_path) == saved[::-1]  # as saved, newest first
    assert moderation.undo(tmp_path) is None  # nothing left to take back, and nothing written
    assert [e.action for e in moderation.edits(tmp_path)] == ["relabel", "delete", "undo", "undo"]


def test_the_log_is_only_ever_appended_to_and_survives_a_torn_line(tmp_path, saved):
    log = tmp_path / moderation.LOG
    moderation.relabel(tmp_path, saved[0].id, 3)
    before = log.read_bytes()
    moderation.delete(tmp_path, saved[2].id)
    assert log.read_bytes().startswith(before)  # appended, never rewritten
    with log.open("a") as f:
        f.write('{"action": "relabel", "id": "x", "lab')  # a crash mid-line
    moderation.delete(tmp_path, saved[3].id)
    assert moderation.moderated(tmp_path).deleted == {saved[2].id, saved[3].id}
    with pytest.raises(ValueError, match="0 to 9"):
        moderation.relabel(tmp_path, saved[0].id, 10)


def test_corrections_from_several_tabs_at_once_all_land_whole(tmp_path, saved):
    ids = iter([item.id for item in saved[:8]])
    at_once(lambda: moderation.delete(tmp_path, next(ids)), threads=8)
    assert len(moderation.moderated(tmp_path).deleted) == 8
    assert len(collection.items(tmp_path)) == 12


def test_export_and_fine_tuning_use_the_teachers_labels_and_say_how_many(tmp_path, saved):
    moderation.relabel(tmp_path, saved[0].id, (saved[0].label + 1) % 10)
    moderation.delete(tmp_path, saved[1].id)
    with zipfile.ZipFile(io.BytesIO(collection.export_zip(tmp_path))) as zf:
        rows = list(csv.DictReader(io.StringIO(zf.read("labels.csv").decode())))
    by_file = {row["file"]: row for row in rows}
    assert f"images/{saved[1].id}.png" not in by_file and len(rows) == 19
    assert int(by_file[f"images/{saved[0].id}.png"]["label"]) == (saved[0].label + 1) % 10
    ready = plan(CHECKPOINT_DIR / "lenet5.pt", tmp_path)
    assert (ready.relabelled, ready.excluded) == (1, 1)
    assert len(ready.learn) + len(ready.held) == 19


@pytest.mark.app
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_teacher_relabels_leaves_out_and_undoes_on_the_class_page(tmp_path, monkeypatch, digits, lang):
    """On the Class page: pick the drawings labelled as the first one is, relabel it, leave another
    out, undo that; the log holds each step and the page shows the labels in force."""
    from streamlit.testing.v1 import AppTest

    from lenet.files import collection_dir
    from tests.conftest import ROOT

    monkeypatch.setenv("LENET_RUNS", str(tmp_path))
    images, labels = digits
    kept = [collection.save(collection_dir(), images[i], int(labels[i])) for i in range(12)]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    at.switch_page("pages/class.py").run()
    assert not at.exception, [e.value for e in at.exception]
    first = kept[-1]  # newest first on the page
    at.selectbox(key="moderate_truth").set_value(str(first.label)).run()
    shown = [s.key for s in at.selectbox if s.key and s.key.startswith("relabel_")]
    assert {k.removeprefix("relabel_") for k in shown} == {i.id for i in kept if i.label == first.label}
    new = (first.label + 1) % 10
    at.selectbox(key=f"relabel_{first.id}").set_value(new).run()
    at.selectbox(key="moderate_truth").set_value("any").run()
    other = kept[-2]  # the second newest: on the page's first row
    at.button(key=f"delete_{other.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    now = {i.id: i for i in collection.items(collection_dir())}
    assert now[first.id].label == new and other.id not in now
    at.button(key="moderate_undo").click().run()
    assert other.id in {i.id for i in collection.items(collection_dir())}
    assert [e.action for e in moderation.edits(collection_dir())] == ["relabel", "delete", "undo"]
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "⟦" not in text

    # one cell of the confusion matrix: labelled 4, read as 4 by the picked lenet5 (read here through classify)
    from lenet.data import normalise
    from lenet.predict import classify
    model = load_model(CHECKPOINT_DIR / "lenet5.pt")[0]
    at.selectbox(key="moderate_truth").set_value("4").run()
    at.selectbox(key="moderate_read").set_value("4").run()
    cell = {i.id for i in collection.items(collection_dir())
            if i.label == 4 and classify(model, normalise(torch.from_numpy(i.image()[None]))).digit == 4}
    shown = {s.key.removeprefix("relabel_") for s in at.selectbox if s.key and s.key.startswith("relabel_")}
    assert cell and shown == cell
