"""What a server process does once, before its first visitor: the process tuning a classroom server
wants, applied here on purpose (importing lenet changes nothing about the process), and the
imports and data the first visitors would otherwise wait for.

- glibc keeps freed memory for reuse (lenet.classroom.tuning.keep_freed_memory: prediction latency);
- the server's own PyTorch uses one thread (SERVER_THREADS): a page's forward passes are one drawing
  each, and the other core is the training's (60 students measured alike with one or two:
  docs/performance.md, "60 students after a stroke's server work was cut");
- training runs in its own process (lenet/classroom/jobs.py) and uses every core, as the CLI does,
  but that process is niced, and it waits between batches while any page is being served
  (lenet.classroom.serving.pages_first): predictions come first;
- the training fork server and MNIST are warmed up.

`make run`'s launcher (deploy/serve.py) calls `prepare()` before Streamlit starts; under plain
`streamlit run app.py` the router calls it on the first page run. Both feel the same.
"""
from __future__ import annotations

import threading

__all__ = ["SERVER_THREADS", "TRAINING_NICE", "prepare"]

TRAINING_NICE = 10  # the training process steps back; page runs and predictions go first
SERVER_THREADS = 1  # PyTorch's threads in the server process (training runs in a process of its own)

_prepared = False
_lock = threading.Lock()


def tune() -> None:
    """Everything the server process changes about itself, in one place."""
    import torch

    from lenet.classroom import serving, tuning

    tuning.keep_freed_memory()
    torch.set_num_threads(SERVER_THREADS)
    serving.set_training_nice(TRAINING_NICE)


def warm() -> None:
    """Import what the first visitors would otherwise wait for, and read MNIST in the background.

    Also a fix, not only speed: thirty sessions arriving at once would import pandas (which
    Streamlit imports lazily, for tables) from thirty threads at once, and some of them saw it
    half-initialised ("partially initialized module 'pandas'")."""
    import pandas  # noqa: F401
    import plotly.graph_objects as go
    import pyarrow  # noqa: F401

    import ui.common.figures  # noqa: F401  (torch, plotly)
    import ui.common.picker  # noqa: F401
    from lenet.classroom.serving import warm_up

    go.Figure()  # plotly reads its default template on a first figure (~0.1 s), while a class waits for a step

    warm_up()


def prepare() -> None:
    """tune() and warm(), once per process: by the launcher before Streamlit starts, or by the
    router on the first page run under plain `streamlit run app.py`."""
    global _prepared
    with _lock:
        if _prepared:
            return
        tune()
        warm()
        _prepared = True
