"""Class: the drawings the class confirmed or corrected on Draw, how the model reads them, and
fine-tuning it on this class's handwriting. The teacher's page when a teacher key is set."""
import streamlit as st

from lenet.classroom import moderation
from lenet.classroom.collection import MAX_ITEMS, items
from lenet.files import collection_dir
from ui.classroom.collection import export_and_clear, live_collection
from ui.classroom.finetune import finetune_section
from ui.classroom.moderate import moderate
from ui.common import lesson, router
from ui.common.i18n import text
from ui.common.picker import selected
from ui.common.teacher import control

router.enter()
t = text()
st.title(t("class.title"))
if not control().allowed:
    st.info(t("class.teacher_only"), icon=":material/school:")
    st.stop()
st.caption(t("class.intro"))
model, choice = selected()
if model is None:
    st.warning(t("draw.no_model"))
    st.stop()

live_collection(t, model, choice)

folder = collection_dir()
drawings = items(folder)
st.caption(t("class.cap", n=len(drawings), cap=MAX_ITEMS))
if drawings or moderation.moderated(folder).latest is not None:
    moderate(t, model, folder)
if not lesson.hidden("finetune"):
    finetune_section(t, choice, folder)
if drawings:
    export_and_clear(t, folder, len(drawings), export=not lesson.hidden("export"), clear=not lesson.hidden("clear"))
