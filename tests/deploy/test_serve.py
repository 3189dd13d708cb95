"""Many sessions, one process: a shared model read from many threads, and real Streamlit sessions
over the app's websocket, all at once, against a server started as `make run` starts it."""
import asyncio
import time
import tomllib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from harness.servers import app_server, run_async
from harness.session import Session
from harness.synth import REPORT, canvas_url, render
from lenet.checkpoints import load_model
from lenet.files import CHECKPOINT_DIR, ROOT, data_root
from lenet.inside.introspect import layer_table
from lenet.predict import classify
from tests.conftest import at_once

LENET5 = CHECKPOINT_DIR / "lenet5.pt"
SESSIONS = 12
DRAWS = 6  # each session draws 6 of the 12 pictures, each starting at its own: every picture drawn 6 times


def test_no_traceback_reaches_a_student_s_screen():
    # failed at 95003f1: Streamlit's default shows every exception's traceback, with the server's paths
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none" and config["runner"]["magicEnabled"] is False


def test_shared_models_answer_the_same_from_many_threads():
    model, _ = load_model(LENET5)
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)

    def work() -> tuple[bool, int]:
        with torch.no_grad():
            same = all(torch.allclose(model(x), expected, atol=1e-5) for _ in range(20))
        return same, len(layer_table(model))
    results = at_once(work, threads=8)
    assert all(same for same, _ in results) and len({n for _, n in results}) == 1 and not model.training


def pictures(n: int) -> list[tuple[str, str]]:
    """(the canvas's PNG data URL, lenet5's own answer for it) for n redrawn MNIST test digits."""
    from torchvision.datasets import MNIST  # here: importing it costs 2.5 s, outside the fast tier

    test = MNIST(str(data_root()), train=False)
    model, _ = load_model(LENET5)
    rng = np.random.default_rng(7)
    out = []
    for i in rng.choice(np.asarray(REPORT), n, replace=False):
        image = render(test.data[i].numpy(), int(test.targets[i]), int(i), rng, "canvas", "normal", "medium").image
        out.append((canvas_url(image), str(classify(model, image).digit)))
    return out


def expected_table() -> list[list[str]]:
    """Explain's layer table for lenet5 as the page writes it, row by row, from the checkpoint."""
    rows = layer_table(load_model(LENET5)[0])
    table = [[r.name, r.kind, str(r.formula) or "—", " × ".join(map(str, r.out_shape)), str(r.params)] for r in rows]
    return table + [["total", "", "", "", str(sum(r.params for r in rows))]]


def table_of(run) -> list[list[str]] | None:
    """Explain's layer table as the server sent it (Arrow IPC bytes in st.table's proto)."""
    for proto in run.of("table"):
        table = pa.ipc.open_stream(proto.arrow_data.data).read_all()
        if "layer" in table.column_names:
            return [[str(v) for v in row.values()] for row in table.to_pylist()]
    return None


@pytest.mark.mnist
@pytest.mark.app
def test_twelve_sessions_at_once_get_right_answers_and_tables(tmp_path):
    """Every prediction is lenet5's own answer for that picture, and every Explain table is lenet5's
    whole table, while twelve sessions draw and look inside at the same moment."""
    drawn, expected = pictures(SESSIONS), expected_table()

    async def one(url: str, i: int) -> list[str]:
        problems = []
        async with Session(url) as s:
            for page in ("draw", "explain", "draw"):
                run = await s.open(page)
                problems += run.exceptions()
                if page == "explain" and table_of(run) != expected:
                    problems.append(f"session {i}: wrong table {table_of(run)}")
            for picture, answer in (drawn[i:] + drawn[:i])[:DRAWS]:
                run = await s.draw(picture)
                problems += run.exceptions()
                if run.metric("Prediction") != answer:
                    problems.append(f"session {i}: {run.metric('Prediction')} for {answer}")
        return problems

    async def class_of(url: str) -> list[str]:
        return [p for ps in await asyncio.gather(*(one(url, i) for i in range(SESSIONS))) for p in ps]

    with app_server(tmp_path) as server:
        problems = run_async(class_of(server.url))
    assert problems == [], problems[:5]


def children(pid: int) -> list[str]:
    """The command lines of every process under `pid` (Linux /proc)."""
    parents, commands = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            commands[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += [commands.get(p, "") for p in frontier]
    return found


@pytest.mark.app
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_plain_streamlit_run_warms_up_on_the_first_page_as_make_run_does(tmp_path):
    """Under `streamlit run app.py` the first page run starts the training fork server (and reads
    MNIST) in the background, so the first Start doesn't wait for them (it waited 9.7 s, not 2.2)."""
    async def visit(url: str) -> None:
        async with Session(url) as s:
            assert (await s.open("draw")).exceptions() == []

    with app_server(tmp_path, "streamlit run app.py") as server:
        assert not [c for c in children(server.pid) if "forkserver" in c]  # nothing before a visitor
        run_async(visit(server.url))
        deadline = time.monotonic() + 120
        while not [c for c in children(server.pid) if "forkserver" in c] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [c for c in children(server.pid) if "forkserver" in c], children(server.pid)
