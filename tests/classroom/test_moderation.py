"""The teacher's corrections: relabel, leave out and undo, kept in an append-only log that the
collection, its export and fine-tuning all read through; nothing is deleted or rewritten."""
from __future__ import annotations

import csv
import io
import zipfile

import pytest

from lenet.classroom import collection, moderation
from lenet.classroom.finetune import plan
from lenet.files import (
    CHECKPOINT_DIR,
    collection_dir,
)
from tests.conftest import at_once


def test_relabel_delete_and_undo_walk_back_one_correction_at_a_time(tmp_path, confirmed):
    first, second = confirmed[0], confirmed[1]
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
    assert collection.items(tmp_path) == confirmed[::-1]  # as confirmed, newest first
    assert moderation.undo(tmp_path) is None  # nothing left to take back, and nothing written
    assert [e.action for e in moderation.edits(tmp_path)] == ["relabel", "delete", "undo", "undo"]


def test_the_log_is_only_ever_appended_to_and_survives_a_torn_line(tmp_path, confirmed):
    log = tmp_path / moderation.LOG
    moderation.relabel(tmp_path, confirmed[0].id, 3)
    before = log.read_bytes()
    moderation.delete(tmp_path, confirmed[2].id)
    assert log.read_bytes().startswith(before)  # appended, never rewritten
    with log.open("a") as f:
        f.write('{"action": "relabel", "id": "x", "lab')  # a crash mid-line
    moderation.delete(tmp_path, confirmed[3].id)
    assert moderation.moderated(tmp_path).deleted == {confirmed[2].id, confirmed[3].id}
    with pytest.raises(ValueError, match="0 to 9"):
        moderation.relabel(tmp_path, confirmed[0].id, 10)


def test_corrections_from_several_tabs_at_once_all_land_whole(tmp_path, confirmed):
    ids = iter([item.id for item in confirmed[:8]])
    at_once(lambda: moderation.delete(tmp_path, next(ids)), threads=8)
    assert len(moderation.moderated(tmp_path).deleted) == 8
    assert len(collection.items(tmp_path)) == 12


def test_export_and_fine_tuning_use_the_teachers_labels_and_say_how_many(tmp_path, confirmed):
    moderation.relabel(tmp_path, confirmed[0].id, (confirmed[0].label + 1) % 10)
    moderation.delete(tmp_path, confirmed[1].id)
    with zipfile.ZipFile(io.BytesIO(collection.export_zip(tmp_path))) as zf:
        rows = list(csv.DictReader(io.StringIO(zf.read("labels.csv").decode())))
    by_file = {row["file"]: row for row in rows}
    assert f"images/{confirmed[1].id}.png" not in by_file and len(rows) == 19
    assert int(by_file[f"images/{confirmed[0].id}.png"]["label"]) == (confirmed[0].label + 1) % 10
    ready = plan(CHECKPOINT_DIR / "lenet5.pt", tmp_path)
    assert (ready.relabelled, ready.excluded) == (1, 1)
    assert len(ready.learn) + len(ready.held) == 19


def test_clearing_a_collection_clears_its_corrections_too(runs, digits):
    images, labels = digits
    folder = collection_dir()
    item = collection.save(folder, images[0], int(labels[0]))
    moderation.delete(folder, item.id)
    assert collection.clear(folder) == 1
    assert moderation.edits(folder) == [] and not (folder / moderation.LOG).exists()
