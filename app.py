"""LeNet Lab: the Streamlit router. Pages live in pages/; the logic lives in lenet/ and ui/."""
import streamlit as st

from ui.models import picker

st.set_page_config(page_title="LeNet Lab", page_icon=":material/draw:", layout="wide")
page = st.navigation([
    st.Page("pages/home.py", title="LeNet Lab", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/search:"),
])
picker()
page.run()
