"""The Draw page's question under a drawing (ui/draw/collect.py): a drawing joins the class's
collection once confirmed, and one the digit-like check flagged asks once more first."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lenet.classroom import collection

pytestmark = pytest.mark.app


def question(runs: str, flagged: bool) -> None:
    import os

    import numpy as np
    import streamlit as st

    from lenet.data import sample_digits
    from lenet.preprocess import to_mnist
    from ui.common.i18n import Text
    from ui.draw.collect import confirm_or_correct

    os.environ["LENET_RUNS"] = runs  # this test's own collection: runs/class
    digit = np.kron(sample_digits()[0][0], np.ones((8, 8), np.uint8))  # a 7, as big as the canvas draws it
    st.fragment(confirm_or_correct)(Text("en"), to_mnist(digit), digit, 7, "lenet5", flagged)  # as on Draw


@pytest.mark.parametrize("flagged", [False, True])
def test_a_flagged_drawing_asks_once_more_before_it_joins_the_collection(tmp_path, flagged):
    # failed at 95003f1: a scribble the check flagged was one "Yes, it's a 8" away from the class's collection
    at = AppTest.from_function(question, args=(str(tmp_path), flagged), default_timeout=60).run()
    asked = lambda: [b for b in at.button if b.label == "Yes, it's 7"]  # noqa: E731
    assert bool(asked()) is not flagged and not at.exception
    if flagged:
        assert any("doesn't think this is a digit" in c.value for c in at.caption)
        next(b for b in at.button if b.label == "It is a digit: ask me which").click().run()
        assert asked() and not at.exception  # asked once more, and now the question
    assert not collection.items(tmp_path / "class")  # nothing saved until a student answers
