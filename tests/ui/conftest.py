"""The pages in Streamlit's AppTest: the steps several tests share."""
from __future__ import annotations

from streamlit import config
from streamlit.testing.v1 import AppTest

from lenet.classroom.browsers import BrowserId
from lenet.files import ROOT
from ui.common.teacher import ENV

# The app shows students no traceback (.streamlit/config.toml); a test's report shows it whole.
# AppTest runs the app in this process; the servers tests start keep the app's own setting.
config.set_option("client.showErrorDetails", "full")


def sign_in_page(monkeypatch, key: str | None, query: dict[str, str] | None = None,
                 browser: BrowserId | None = None) -> AppTest:
    """The Train page with the teacher key `key` set (None: none), opened by a link with `query`,
    in a browser the server named `browser` (None: no id, each session its own)."""
    if key is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, key)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["_browser"] = browser  # what ui/common/teacher.py's browser() read from the cookie
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sign_in(at: AppTest, key: str) -> None:
    """Type into the sidebar's form and submit it: a form sends its values only on submit."""
    next(t for t in at.text_input if t.label == "Teacher key").input(key)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
