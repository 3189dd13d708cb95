"""LeNet Lab: the Streamlit router. Pages live in pages/; the logic lives in lenet/."""
import streamlit as st

st.set_page_config(page_title="LeNet Lab", page_icon="✏️", layout="wide")
st.navigation([st.Page("pages/home.py", title="LeNet Lab", default=True)]).run()
