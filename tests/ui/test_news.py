"""The parts of a page that wait on the news (ui/common/news.py), in Streamlit's AppTest with a news
stream (as under `make run`): each part's component is told its own topics' versions and its grace.
The news of this tab's own action waits GRACE_S; a student's step, which no action of a student
makes, waits for nothing."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from lenet.classroom.news import GRACE_S
from lenet.files import ROOT

# Failed at b634739: every part waited GRACE_S, a student's step too (0.2 s of its second).


@pytest.mark.app
def test_a_student_s_step_waits_for_no_grace_and_the_other_parts_do(monkeypatch, runs):
    monkeypatch.setattr("ui.common.news.streamed", lambda: True)  # a stream to listen to, as deploy/serve.py's
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/draw.py").run()
    assert not at.exception, [e.value for e in at.exception]
    parts = {data["id"]: data for data in (json.loads(e.proto.json) for e in at.get("bidi_component"))
             if "versions" in data}
    assert parts["lead"]["versions"].keys() == {"step"}
    assert parts["lead"]["grace"] == 0
    assert parts["picker"]["grace"] == round(GRACE_S * 1000) > 0
