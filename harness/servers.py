"""A real app server for a test or a bench: `make run`'s command (or plain `streamlit run app.py`)
on a free local port, with its own runs folder, stopped afterwards whatever happens."""
from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.replicas import wait_until_up
from deploy.supervise import running
from lenet.files import ROOT

COMMANDS = {  # the two ways to start the app: `make run`, and what Streamlit's own hosting runs
    "make run": [sys.executable, "-m", "deploy.serve"],
    "streamlit run app.py": [sys.executable, "-m", "streamlit", "run", "app.py"],
}
UNCAUGHT = "Uncaught app execution"  # what Streamlit logs with a page's traceback (streamlit/error_util.py)


@dataclass(frozen=True)
class Server:
    url: str  # http://127.0.0.1:PORT
    pid: int
    log: Path  # what it printed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(runs: Path, command: str = "make run", env: dict[str, str] | None = None,
               app: Path = ROOT) -> Iterator[Server]:
    """A fresh app server whose saved runs go to `runs` (so its first visitor is really the
    first), with no teacher key unless `env` sets one. `app` is the checkout it runs, with its own
    .venv (a bench's baseline is another checkout). Raises RuntimeError, with its output, if it
    does not answer within START_S (deploy/replicas.py)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "LENET_TEACHER_KEY"} | {"LENET_RUNS": str(runs)}
    log = Path(tempfile.mkstemp(prefix="lenet-server-", suffix=".log")[1])
    python, *rest = COMMANDS[command]
    python = str(app / ".venv" / "bin" / "python") if app != ROOT else python
    command_line = [python, *rest, "--server.headless", "true", "--server.port", str(port),
                    "--server.address", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    try:
        with open(log, "w") as out, running(command_line, environ | (env or {}), out, cwd=app) as proc:
            try:
                wait_until_up(url, proc)
            except RuntimeError as err:
                raise RuntimeError(f"the app server: {err}: {log.read_text()[-2000:]}") from None
            yield Server(url=url, pid=proc.pid, log=log)
        said = log.read_text()
        if UNCAUGHT in said:  # students see only "an error happened" (showErrorDetails): the log tells
            raise RuntimeError(f"the app server logged an exception: {said[said.index(UNCAUGHT):][:3000]}")
    finally:
        log.unlink(missing_ok=True)


def run_async(coro: Coroutine) -> object:
    """Run a coroutine to the end on an event loop of its own, in a thread of its own: the test's thread
    may hold a running loop already (Playwright's sync API keeps one once a browser test has run)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
