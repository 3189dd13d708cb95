"""Start the app: `python -m deploy.serve [streamlit options]`, which is what `make run` does.

It is `streamlit run deploy/asgi.py` (app.py, with the app's own middleware in front) after the
server process is prepared for a class (ui/common/startup.py: the training process niced, glibc's
freed memory kept, the fork server and MNIST warmed up).
"""
import sys

from lenet.files import ROOT

APP = ROOT / "deploy" / "asgi.py"


def main() -> None:
    # Streamlit is imported here, not at the top: multiprocessing re-runs the parent's main module
    # in each child it starts, and the fork server, started from here, needs no Streamlit.
    from streamlit.web import cli

    from ui.common.startup import prepare

    prepare()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
