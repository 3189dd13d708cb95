"""The browser tests' shared pieces: one Debian chromium for the session, one open app server
shared by every test that doesn't need its own, and one with a teacher key for the class tests.
Only the first-visit tests start fresh servers. Screenshots and the measured timings
(timings.json) go to out/browser/, or to $LENET_SHOTS; `python -m bench.browser` reads the
timings against their targets. Without /usr/bin/chromium these tests skip."""
from __future__ import annotations

import json

import pytest

from harness.browser import CHROMIUM, FLAGS, RUN_COUNTER, SHOTS
from harness.servers import app_server

TEACHER_KEY = "projector-42"
TIMINGS: dict[str, object] = {}  # what each test measured, for bench/browser.py


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="browser tests need Debian's chromium: `sudo apt-get install chromium`")
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(skip)


@pytest.fixture(scope="session")
def timings():
    yield TIMINGS
    if TIMINGS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(scope="session")
def server(tmp_path_factory, timings) -> str:
    """The open app (no teacher key), as `make run` starts it: shared by the tests that don't
    need a first visit or a teacher."""
    with app_server(tmp_path_factory.mktemp("runs")) as started:
        yield started.url


@pytest.fixture(scope="session")
def class_server(tmp_path_factory, timings):
    """The app with a teacher key, for a class: (its URL, its runs folder)."""
    runs = tmp_path_factory.mktemp("class-runs")
    with app_server(runs, env={"LENET_TEACHER_KEY": TEACHER_KEY}) as started:
        yield started.url, runs


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh browser contexts (a new session each), closed after the test."""
    contexts = []

    def make(width: int = 1400, height: int = 1000, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        context.add_init_script(RUN_COUNTER)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
