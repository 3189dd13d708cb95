"""A browser session without a browser: Streamlit's own websocket protocol, from Python.

A `Session` connects to /_stcore/stream (subprotocol "streamlit"), sends BackMsg.rerun_script
as a browser does (page, widget states, fragment) and reads ForwardMsgs until script_finished.
It keeps what a browser would: the pages' hashes, each widget's id, each fragment's id, the
fragments that ask to be rerun on a timer, and the news components on the page (ui/common/news.py):
`push()` sends what one sends when its stream brings news. The server does all its real work (script runs,
model calls, protobuf); nothing is rendered, so N sessions measure the server, not N browsers.

    async with Session(url) as s:
        await s.open("draw")
        run = await s.draw(png_data_url, strokes)  # the canvas's value, as the component sends it
        run.metric("Prediction")  # "7"
"""
from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from lenet.classroom.news import GRACE_S

__all__ = ["News", "Run", "Session", "StreamlitError", "canvas_value"]

EARLY_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")
NEWS_COMPONENT = "lenet_news"  # ui/common/news.py's component (its registered name may carry a module's prefix)
TRIGGERS = "$$STREAMLIT_INTERNAL_KEY_{}__events"  # a v2 component's trigger widget (bidi_component/main.py)


class StreamlitError(RuntimeError):
    """The server showed an exception, or the connection broke."""


@dataclass
class Run:
    """What one script run sent back."""
    seconds: float  # from sending the request to script_finished
    elements: list[tuple[str, Any]] = field(default_factory=list)  # (element type, its proto), in order
    first_metric_s: float | None = None  # when the first metric arrived (the Prediction, on Draw)
    arrived: list[float] = field(default_factory=list)  # each element's perf_counter() on arrival, in order

    def of(self, kind: str) -> list[Any]:
        return [proto for k, proto in self.elements if k == kind]

    def metric(self, label: str) -> str | None:
        return next((m.body for m in self.of("metric") if m.label == label), None)

    def exceptions(self) -> list[str]:
        return [e.message for e in self.of("exception")]


def canvas_value(png_data_url: str, objects: int = 1) -> str:
    """The canvas component's widget value: its fabric JSON (here `objects` placeholder strokes:
    the page counts them) and the rendered PNG, which is what the page reads."""
    raw = {"version": "7.4.0", "objects": [{"type": "Path"} for _ in range(objects)], "background": "#000000"}
    return json.dumps({"drawing": {"raw": raw, "data": png_data_url}})


@dataclass(frozen=True)
class News:
    """A news component as a page drew it: its data, and where its trigger goes."""
    id: str  # its element's (widget) id
    fragment: str  # the fragment it reruns
    url: str  # its stream: /_lenet/news?topics=...[&class=...]
    versions: dict[str, int]  # the versions its part was drawn with
    grace: float = GRACE_S  # s its news waits before the push (its data's "grace", in ms; a baseline's: GRACE_S)

    @property
    def trigger(self) -> str:
        return TRIGGERS.format(self.id)


class Session:
    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.timeout_s = timeout_s
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page: str = ""  # the current page's hash
        self.widgets: dict[str, str] = {}  # "kind:label or key" -> widget id
        self.states: dict[str, Any] = {}  # widget id -> a WidgetState we keep sending, as a browser does
        self.fragments: dict[str, str] = {}  # widget id -> the fragment it was drawn in
        self.timers: dict[str, float] = {}  # fragment id -> seconds between its automatic reruns (this page's)
        self.news: dict[str, News] = {}  # a news component's data id ("picker") -> it, as last drawn (this page's)
        self.url = url  # http://host:port, for the page's streams
        self.cookies = ""  # what the page set: its streams send them too, as a browser does
        self.replicas: list[str] = []  # behind deploy/nginx.conf: the replica of the page, then of the socket
        self._ws = None

    async def __aenter__(self) -> Session:
        """Load the page, then open its socket with the cookies the page set, as a browser does
        (behind nginx, the sticky cookie keeps both on one replica)."""
        page = await asyncio.to_thread(urllib.request.urlopen, self.ws_url.replace("ws", "http", 1)
                                       .removesuffix("/_stcore/stream") + "/", timeout=self.timeout_s)
        with page:
            page.read()
        self.cookies = cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_all("Set-Cookie") or [])
        self._ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                            open_timeout=self.timeout_s, ping_interval=None,
                                            additional_headers={"Cookie": cookies} if cookies else None)
        self.replicas = [h for h in (page.headers.get("X-Lenet-Replica"),
                                     self._ws.response.headers.get("X-Lenet-Replica")) if h]
        return self

    async def __aexit__(self, *exc) -> None:
        await self._ws.close()

    async def open(self, path: str) -> Run:
        """A full run of the page at /path (as following a link)."""
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = path
        if path in self.pages:
            msg.rerun_script.page_script_hash = self.pages[path]
        self.states.clear()
        return await self._send(msg)

    async def rerun(self, fragment: str | None = None, auto: bool = False, **changes: Any) -> Run:
        """Rerun the page (or one fragment) with some widgets changed: name=WidgetState fields,
        e.g. {"bidi_component:canvas": ("json_value", text)}."""
        for name, (attr, value) in changes.items():
            self.states[self.widgets[name]] = (attr, value)
        triggers = {self.widgets[n] for n, (attr, _) in changes.items() if attr == "trigger_value"}
        once = {wid: self.states.pop(wid) for wid in triggers}  # a button press counts once
        return await self._rerun(fragment, once, auto)

    async def _rerun(self, fragment: str | None, once: dict[str, tuple[str, Any]], auto: bool = False) -> Run:
        """A rerun with the widget states we keep plus `once` (triggers: sent this time only)."""
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_script_hash = self.page
        if fragment:
            msg.rerun_script.fragment_id = fragment
        msg.rerun_script.is_auto_rerun = auto
        for wid, (attr, value) in (self.states | once).items():
            state = msg.rerun_script.widget_states.widgets.add()
            state.id = wid
            setattr(state, attr, value)
        return await self._send(msg)

    async def push(self, name: str, versions: dict[str, int]) -> Run:
        """What news component `name` sends when its stream's versions differ from those it was drawn
        with: a rerun of its fragment, the widgets as they are plus its trigger, once (as
        setTriggerValue("news", versions) sends it: a JSON list of events)."""
        news = self.news[name]
        event = json.dumps([{"event": "news", "value": versions}], separators=(",", ":"))
        return await self._rerun(news.fragment, {news.trigger: ("json_trigger_value", event)})

    async def draw(self, png_data_url: str, strokes: int = 1) -> Run:
        """Send a drawing as the canvas does after a stroke: only its fragment reruns."""
        ours = {n.id for n in self.news.values()}  # not a news component: it is the canvas that reruns Draw
        name = next((n for n, wid in self.widgets.items() if n.startswith("bidi_component:") and wid not in ours),
                    None)
        if name is None:
            raise StreamlitError(f"no canvas on this page; its widgets: {sorted(self.widgets)}")
        return await self.rerun(self.fragments[self.widgets[name]],
                                **{name: ("json_value", canvas_value(png_data_url, strokes))})

    async def _send(self, msg: BackMsg) -> Run:
        start = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        run = Run(0.0)
        while True:
            try:
                raw = await asyncio.wait_for(self._ws.recv(), self.timeout_s)
            except (TimeoutError, websockets.ConnectionClosed) as err:
                raise StreamlitError(f"no answer from the server: {type(err).__name__}") from None
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            self._read(fwd, run, start)
            if fwd.WhichOneof("type") == "script_finished" and fwd.script_finished != EARLY_FOR_RERUN:
                run.seconds = time.perf_counter() - start  # (a run that ended early is followed by its rerun)
                return run

    def _read(self, fwd: ForwardMsg, run: Run, start: float) -> None:
        kind = fwd.WhichOneof("type")
        if kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
            self.page = fwd.navigation.page_script_hash or self.page
        elif kind == "new_session" and not fwd.metadata.run.fragment_ids:
            self.timers.clear()  # a full run: its page announces its timers anew (a fragment's id may change)
            self.news.clear()  # and draws its news components anew
        elif kind == "auto_rerun":
            self.timers[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
        elif kind == "delta" and fwd.delta.HasField("new_element"):
            element = fwd.delta.new_element
            etype = element.WhichOneof("type")
            proto = getattr(element, etype)
            run.elements.append((etype, proto))
            run.arrived.append(time.perf_counter())
            if etype == "metric" and run.first_metric_s is None:
                run.first_metric_s = time.perf_counter() - start
            wid = getattr(proto, "id", "") if etype != "exception" else ""
            if wid:
                name = getattr(proto, "label", "") or wid.rsplit("-", 1)[-1]
                self.widgets[f"{etype}:{name}"] = wid
                self.fragments[wid] = fwd.delta.fragment_id
            if etype == "bidi_component" and proto.component_name.endswith(NEWS_COMPONENT):
                data = json.loads(proto.json)  # {"id": name, "url": ..., "versions": ..., "grace": ms}
                self.news[data["id"]] = News(id=wid, fragment=fwd.delta.fragment_id, url=data["url"],
                                             versions=data["versions"], grace=data.get("grace", GRACE_S * 1000) / 1000)
