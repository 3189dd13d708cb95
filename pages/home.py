"""The overview page."""
import streamlit as st

from ui.common import router
from ui.common.i18n import text

router.enter()
t = text()
st.title(t("home.title"))
st.markdown(t("home.intro"))
with st.expander(t("home.class_title")):
    st.markdown(t("home.class_steps"))
