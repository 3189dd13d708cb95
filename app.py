"""LeNet Lab: the Streamlit router. Pages live in pages/; the logic lives in lenet/ and ui/."""
import streamlit as st

from ui.models import picker

st.set_page_config(page_title="LeNet Lab", page_icon="✏️", layout="wide")
page = st.navigation([
    st.Page("pages/home.py", title="LeNet Lab", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="📈"),
    st.Page("pages/draw.py", title="Draw", icon="✏️"),
    st.Page("pages/explain.py", title="Explain", icon="🔍"),
])
picker()
page.run()
