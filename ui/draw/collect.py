"""The Draw page's "is that right?": a student confirms the answer or gives the right digit, and
the drawing joins the class collection (lenet/classroom/collection.py), which the Class page shows."""
from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from lenet.classroom.collection import CollectionError, save
from lenet.files import collection_dir
from lenet.preprocess import Preprocessed
from ui.common.i18n import Text


def confirm_or_correct(t: Text, drawing: Preprocessed, raw: np.ndarray, predicted: int, model: str,
                       flagged: bool = False) -> None:
    """Ask whether `predicted` is right: Yes saves it with that label, a digit saves it with that
    one. Each drawing is saved once; the question comes back with the next drawing. A drawing the
    digit-like check `flagged` asks once more first: the collection is the class's hidden test and
    fine-tuning data, and a scribble confirmed as an 8 would teach the model that scribbles are 8s."""
    mark = hashlib.sha1(drawing.centred.tobytes()).hexdigest()[:12]  # this drawing, whatever reruns the page
    if st.session_state.get("_collected") == mark:
        st.success(t("collect.thanks"), icon=":material/check_circle:")
        return
    if flagged and st.session_state.get("_sure_digit") != mark:
        st.caption(t("collect.flagged"))
        st.button(t("collect.is_digit"), key=f"collect-sure-{mark}", on_click=st.session_state.__setitem__,
                  args=("_sure_digit", mark))  # set before the rerun the press causes: the question then shows
        return
    st.caption(t("collect.ask", digit=predicted))
    # One under the other: beside the Yes button the ten digits ran out of the column (8 and 9 cut off).
    label = predicted if st.button(t("collect.yes", digit=predicted), key=f"collect-yes-{mark}") else None
    right = st.pills(t("collect.no"), list(range(10)), key=f"collect-digit-{mark}")
    label = right if right is not None else label
    if label is None:
        return
    try:
        save(collection_dir(), drawing.centred, int(label), canvas=np.asarray(raw, dtype=np.uint8),
             predicted=predicted, model=model)
    except CollectionError as err:
        st.error(t.error(err))
        return
    st.session_state["_collected"] = mark
    st.rerun(scope="fragment")
