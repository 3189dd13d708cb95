"""Start the app: `python -m ui.serve [streamlit options]`, which is what `make run` does.

It is `streamlit run app.py` plus the process tuning a classroom server wants, applied here on
purpose (importing lenet changes nothing about the process):
- OpenMP threads wait passively, so idle training workers don't spin on a core a Draw
  prediction needs (this must be set before torch is imported);
- glibc keeps freed memory for reuse (lenet.tuning.keep_freed_memory: prediction latency);
- training leaves a core to the server and the pages, and its thread is niced.
Plain `streamlit run app.py` works too, without these.
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from streamlit.web import cli  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app.py"
TRAINING_NICE = 10  # the training thread steps back; page runs and predictions go first


def tune() -> None:
    """Everything the server process changes about itself, in one place."""
    import torch

    from lenet import jobs, tuning

    tuning.keep_freed_memory()
    # Leave a core for the server and the pages: a Draw prediction must not queue behind training.
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    jobs.set_training_nice(TRAINING_NICE)


def warm() -> None:
    """Import what the first visitor would otherwise wait for, and read MNIST in the background."""
    import ui.charts  # noqa: F401  (torch, plotly)
    import ui.models  # noqa: F401
    from lenet.jobs import warm_up

    warm_up()


if __name__ == "__main__":
    tune()
    warm()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main())
