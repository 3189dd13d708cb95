"""Class: the drawings the class confirmed or corrected on Draw, how the model reads them, and
fine-tuning it on this class's handwriting. The teacher's page when a teacher key is set."""
import streamlit as st

from lenet.classroom import moderation
from lenet.classroom.collection import MAX_ITEMS, clear, export_zip, items
from lenet.classroom.jobqueue import JOBS
from lenet.classroom.jobs import JobBusy, finetune_run
from lenet.files import collection_dir
from ui.classroom.collection import live_collection
from ui.classroom.finetune import finetune_report, recipe_of
from ui.classroom.moderate import moderate
from ui.common import lesson, router
from ui.common.i18n import text
from ui.common.picker import LIVE, selected
from ui.common.teacher import control

EXPORT_NAME = "lenet-lab-class-drawings.zip"

router.enter()
t = text()
st.title(t("class.title"))
who = control()
if not who.allowed:
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
    st.subheader(t("class.finetune", model=choice.name))
    st.caption(t("class.finetune_caption"))
    if choice.key == LIVE:
        st.info(t("class.finetune_live"))
    else:
        layers, epochs, replay = recipe_of(t)
        if st.button(t("class.finetune_start", model=choice.name), type="primary", key="finetune"):
            try:
                JOBS.start_first(finetune_run(choice.key, folder, layers=layers, epochs=epochs, replay=replay))
                st.success(t("class.finetune_started"))
            except (JobBusy, ValueError) as err:
                st.error(t.error(err))
    finetune_report(t, JOBS.current())

if drawings and not lesson.hidden("export"):
    st.subheader(t("class.export"))
    st.download_button(t("class.download", n=len(drawings)), data=lambda: export_zip(folder),
                       file_name=EXPORT_NAME, mime="application/zip", key="export", on_click="ignore")
if drawings and not lesson.hidden("clear"):
    sure = st.checkbox(t("class.clear_sure", n=len(drawings)), key="clear_sure")
    if st.button(t("class.clear"), disabled=not sure, key="clear_all"):
        gone = clear(folder)
        st.session_state.pop("clear_sure", None)
        st.toast(t("class.cleared", n=gone))
        st.rerun()
