"""Importing lenet changes nothing about the process; tuning is applied by name, on purpose."""
import itertools
import json
import subprocess
import sys

import pytest

from lenet.classroom.tuning import ThreadGovernor
from lenet.files import ROOT

PROBE = """
import ctypes, json, os, sys, threading
calls = []
class Spy(ctypes.CDLL):  # sees every glibc function the process looks up through ctypes
    def __getattr__(self, name):
        if name == "mallopt":
            calls.append(name)
        return super().__getattr__(name)
ctypes.CDLL = Spy
import torch
def state():
    return {"threads": torch.get_num_threads(), "env": dict(os.environ),
            "nice": os.getpriority(os.PRIO_PROCESS, threading.get_native_id())}
before = state()
import lenet, lenet.checkpoints, lenet.cli, lenet.data, lenet.fast, lenet.ink, lenet.models, lenet.predict
import lenet.preprocess, lenet.settings, lenet.train, lenet.inside.introspect, lenet.inside.attribution
import lenet.classroom.jobs, lenet.classroom.serving, lenet.classroom.trainer, lenet.classroom.tuning
after_import = state()
imported_calls = list(calls)
lenet.classroom.tuning.keep_freed_memory()
print(json.dumps({"unchanged": before == after_import, "on_import": imported_calls, "on_call": calls}))
"""


@pytest.mark.process
def test_importing_lenet_changes_nothing_and_tuning_does_what_it_says():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["unchanged"] and report["on_import"] == []
    if sys.platform.startswith("linux"):
        assert report["on_call"] == ["mallopt"]  # the spy works: it sees the explicit call (ctypes caches it)


class Machine:
    """A fake machine for the governor: a step's time depends on the thread count and on whether
    another program holds a core, as measured on 2 cores (one core taken: 2 threads ~25× slower)."""

    def __init__(self) -> None:
        self.now, self.threads, self.busy = 0.0, 2, False  # torch's default: every core
        self.history: list[int] = []

    def set_threads(self, n: int) -> None:
        self.threads = n

    def step(self) -> float:
        seconds = {(2, False): 0.010, (1, False): 0.015, (2, True): 0.400, (1, True): 0.016}[self.threads, self.busy]
        self.now += seconds
        self.history.append(self.threads)
        return seconds


def run(governor: ThreadGovernor, machine: Machine, seconds: float) -> float:
    """Train for `seconds` of fake time; the share of it spent on 1 thread."""
    start, on_one = machine.now, 0.0
    while machine.now - start < seconds:
        before = machine.now
        governor.batch(machine.step())
        on_one += (machine.now - before) if machine.history[-1] == 1 else 0.0
    return on_one / (machine.now - start)


def test_the_governor_keeps_both_threads_on_a_free_machine_and_one_while_a_core_is_taken():
    machine = Machine()
    governor = ThreadGovernor(2, machine.set_threads, clock=lambda: machine.now)
    assert run(governor, machine, 60) < 0.1 and governor.threads == 2  # free: both cores, a few short tries of 1
    machine.busy, busy_from = True, len(machine.history)  # the projector's browser starts drawing
    assert run(governor, machine, 60) > 0.9 and governor.threads == 1
    busy = machine.history[busy_from:]
    tries = sum(a == 1 and b == 2 for a, b in itertools.pairwise(busy))
    assert tries <= 5  # each try of 2 threads under load costs a slow step: they back off
    machine.busy = False  # the browser closes
    run(governor, machine, 45)
    assert governor.threads == 2


def test_one_core_means_one_thread_and_no_tries():
    calls = []
    governor = ThreadGovernor(1, calls.append)
    for _ in range(1000):
        governor.batch(0.01)
    assert calls == [1] and governor.threads == 1  # set once, at the start
