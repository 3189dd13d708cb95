"""The teacher's corrections on the Class page (ui/classroom/moderate.py), in Streamlit's AppTest."""

from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

from lenet.checkpoints import load_model
from lenet.classroom import collection, moderation
from lenet.files import CHECKPOINT_DIR, ROOT, collection_dir


@pytest.mark.app
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_teacher_relabels_leaves_out_and_undoes_on_the_class_page(tmp_path, monkeypatch, digits, lang):
    """On the Class page: pick the drawings labelled as the first one is, relabel it, leave another
    out, undo that; the log holds each step and the page shows the labels in force."""
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
