"""The app as `make run` serves it: app.py behind the app's own middleware, in Streamlit's ASGI
app (st.App). The middleware gives every browser its signed id (lenet/classroom/browsers.py), so
one browser is one student. Under plain `streamlit run app.py` there is none, and each session
is its own student, as before."""
import streamlit as st
from starlette.middleware import Middleware

from lenet.classroom.browsers import Browsers
from lenet.files import ROOT

app = st.App(str(ROOT / "app.py"), middleware=[Middleware(Browsers)])
