"""The news pages wait on instead of polling (lenet/classroom/news.py): versions per class and
topic, the watchers each change wakes (and only those), every change that a page shows bumping its
topic once it is on disk, and news crossing replicas through a real redis-server. The stream
itself is tests/deploy/test_push.py; the pages that wait on it, tests/browser/test_push.py."""
from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from lenet.classroom import board, collection, moderation, news, replicas
from lenet.classroom.jobs import Job
from lenet.classroom.news import News
from lenet.classroom.runs import delete_run
from lenet.classroom.state import RunState, Status
from lenet.config import TrainConfig
from lenet.files import ROOT, runs_root
from tests.conftest import HANG_S, eventually

# Every test here failed at 368aae8, where news.py did not exist and every page polled.


def test_a_change_wakes_the_watchers_of_its_class_and_topic_only():
    hub, woken = News(), []
    with hub.watch("7a", ["board"], lambda: woken.append("7a board")), \
            hub.watch("7a", ["run", "runs"], lambda: woken.append("7a run")), \
            hub.watch("7b", ["board"], lambda: woken.append("7b board")):
        before = hub.versions("7a", ["board", "run"])
        hub.bump("board", "7a", share=False)
        assert woken == ["7a board"]
        after = hub.versions("7a", ["board", "run"])
        assert after["board"] > before["board"] and after["run"] == before["run"]
        assert hub.versions("7b", ["board"]) == {"board": 0}
        assert hub.watching() == 3
    assert hub.watching() == 0
    hub.bump("board", "7a", share=False)
    assert woken == ["7a board"]  # nobody watches any more


def test_versions_never_repeat_and_bumps_from_many_threads_all_count():
    hub, woken, lock = News(), [], threading.Lock()

    def wake() -> None:
        with lock:
            woken.append(1)

    with hub.watch(None, ["collection"], wake):
        seen = set()

        def saver() -> None:
            for _ in range(200):
                hub.bump("collection", None, share=False)
                seen.add(hub.versions(None, ["collection"])["collection"])

        threads = [threading.Thread(target=saver) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG_S)
    assert len(woken) == 1600  # every change woke the watcher
    assert hub.versions(None, ["collection"])["collection"] == max(seen)


def test_live_points_are_thinned_and_an_unknown_topic_is_refused():
    hub = News()
    assert hub.bump("live", "7a", share=False)
    assert not hub.bump("live", "7a", share=False)  # within LIVE_EVERY_S: the charts redraw at most that often
    assert hub.bump("live", "7b", share=False)  # another class's are its own
    with pytest.raises(ValueError):
        hub.bump("everything", "7a")


def test_the_folder_names_its_class(runs):
    assert news.class_of(runs_root() / "classes" / "7a" / "board") == "7a"
    assert news.class_of(runs_root() / "board") is None
    assert news.class_of(runs_root() / "classes") is None


def _moved(topic: str, code: str | None, change) -> bool:
    before = news.NEWS.versions(code, [topic])[topic]
    change()
    return news.NEWS.versions(code, [topic])[topic] > before


def test_each_change_a_page_shows_is_news_of_its_class(runs, digits):
    images, labels = digits
    folder = runs_root() / "classes" / "7a"
    drawings = folder / "class"
    entry = board.Entry(name="e1", nickname="ann", design="c6k5p2-m2-f10", activation="relu", params=1,
                        multiply_adds=1, train_s=1.0, wall_s=1.0, test_accuracy=0.5, class_accuracy=None,
                        class_count=0)
    assert _moved("board", "7a", lambda: board.write_entry(entry, folder / "board"))
    assert _moved("board", "7a", lambda: board.remove_entry("e1", folder / "board"))
    assert _moved("board", "7a", lambda: board.save_budget(board.Budget(epochs=2), folder / "board"))
    saved = []
    assert _moved("collection", "7a", lambda: saved.append(collection.save(drawings, images[0], int(labels[0]))))
    assert _moved("collection", "7a", lambda: moderation.relabel(drawings, saved[0].id, 3))
    assert _moved("collection", "7a", lambda: collection.clear(drawings))
    run = folder / "20261207-120000-lenet5-default.pt"
    run.write_bytes(b"")
    assert _moved("runs", "7a", lambda: delete_run(run, folder))
    assert not _moved("collection", None, lambda: collection.save(drawings, images[1], int(labels[1])))  # 7a's only


def _state(**changes) -> RunState:
    return replace(RunState(config=TrainConfig(epochs=1), name="r", folder=runs_root(), class_code="7a"), **changes)


def test_a_run_tells_its_pages_once_per_change_and_a_design_tells_the_line(runs):
    job = Job(_state(status=Status.RUNNING))
    assert _moved("run", "7a", job.tell)
    assert not _moved("run", "7a", job.tell)  # nothing changed: no news
    job.state.epochs.append({"epoch": 1})
    assert _moved("run", "7a", job.tell)
    design = Job(_state(board=True, owner="ann"))
    assert _moved("line", "7a", design.tell)  # it joined the line
    assert not _moved("run", "7a", lambda: design.stop(by="ann"))  # a design never reruns every page's picker
    assert design.state.status is Status.STOPPED and not _moved("line", "7a", design.tell)


def test_news_crosses_replicas_and_a_dead_replica_s_run_is_news(shared, runs, monkeypatch):
    news.listen(tick=replicas.tell_the_dead)
    before = news.NEWS.versions("7a", ["board"])["board"]
    subprocess.run([sys.executable, "-c", "from lenet.classroom.news import bump; bump('board', '7a')"],
                   cwd=ROOT, check=True, timeout=HANG_S)  # another replica's process
    assert eventually(lambda: news.NEWS.versions("7a", ["board"])["board"] > before)
    # A run published by a replica that then died (it never held the lock): news here, once.
    job = Job(_state(status=Status.RUNNING))
    monkeypatch.setattr(replicas, "PROCESS", "r2-process")
    replicas.Publisher(job, "r2")(force=True)
    monkeypatch.setattr(replicas, "PROCESS", "r1-process")
    shown = news.NEWS.versions("7a", ["run"])["run"]
    assert replicas.remote_run("7a").snapshot().status is Status.STOPPED  # the page sees it stopped
    assert eventually(lambda: news.NEWS.versions("7a", ["run"])["run"] > shown)
    told = news.NEWS.versions("7a", ["run"])["run"]
    replicas.tell_the_dead()
    assert news.NEWS.versions("7a", ["run"])["run"] == told


def test_an_image_the_class_page_reads_is_on_disk_before_its_news(runs, digits):
    images, labels = digits
    drawings, read_at_news = runs_root() / "class", []
    with news.NEWS.watch(None, ["collection"], lambda: read_at_news.append(len(collection.read(drawings).items))):
        collection.save(drawings, images[0], int(labels[0]))
    assert read_at_news and set(read_at_news) == {1}  # (a store coming back may wake everything once more)
    assert np.array_equal(collection.read(drawings).images[0], images[0])


def test_a_replica_woken_by_a_run_s_news_reads_the_run_that_made_it(shared, runs):
    # failed before Job.tell published first (this first version): the news of the first live
    # weights came before their publish, and r2's pickers offered the live model an epoch late
    job, seen = Job(_state(status=Status.RUNNING)), []
    job._process = mp.get_context("spawn").Process()  # begun (a run in line is never published)
    job.tell()  # published: running, no live model yet
    with news.NEWS.watch("7a", ["run"], lambda: seen.append(replicas._published("7a").weights is not None)):
        job._weights = {"w": torch.zeros(3)}  # its first live weights, well within PUBLISH_EVERY_S
        job.tell()
    assert seen == [True]
