"""Start the app: `python -m ui.serve [streamlit options]`, which is what `make run` does.

Streamlit treats a folder named pages/ next to the main script as an old-style (v1)
multipage app until app.py's first run calls st.navigation. A first visitor who opened
/draw directly would get that old navigation, without app.py's sidebar. This launcher
tells Streamlit up front that app.py does its own navigation, then runs `streamlit run app.py`.
"""
import os
import sys
from pathlib import Path

# Training shares the CPU with the server and the pages; OpenMP threads that spin while they
# wait would starve a Draw prediction made during a run. Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

APP = Path(__file__).resolve().parents[1] / "app.py"

if __name__ == "__main__":
    import ui.charts  # noqa: F401  (torch, plotly: imported now, so the first visitor doesn't wait for them)
    import ui.models  # noqa: F401
    import torch

    from lenet.jobs import warm_up

    # Leave a core for the server and the pages: a Draw prediction must not queue behind training.
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    warm_up()  # MNIST into memory in the background, if it is on disk: Start won't wait for it

    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main())
