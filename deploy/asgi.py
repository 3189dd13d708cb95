"""The app as `make run` serves it: app.py in Streamlit's ASGI app (st.App), with
- the app's own middleware, which gives every browser its signed id (lenet/classroom/browsers.py),
  so one browser is one student;
- the news stream that pages wait on instead of polling, and the count of script runs
  (deploy/push.py).
Under plain `streamlit run app.py` there is neither: each session is its own student, and the pages
poll on timers as they did before (ui/common/news.py says which)."""
import streamlit as st
from starlette.middleware import Middleware

from deploy.push import Counted, routes
from lenet.classroom.browsers import Browsers
from lenet.classroom.news import serve_news
from lenet.files import ROOT

serve_news()  # the pages' news components stream from /_lenet/news rather than poll
app = st.App(str(ROOT / "app.py"), routes=routes, middleware=[Middleware(Browsers), Middleware(Counted)])
