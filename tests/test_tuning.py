"""Importing lenet changes nothing about the process; tuning is applied by name, on purpose."""
import json
import subprocess
import sys

from tests.conftest import ROOT

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
import lenet, lenet.checkpoints, lenet.cli, lenet.data, lenet.fast, lenet.ink, lenet.introspect, lenet.jobs
import lenet.models, lenet.predict, lenet.preprocess, lenet.settings, lenet.train, lenet.tuning
after_import = state()
imported_calls = list(calls)
lenet.tuning.keep_freed_memory()
print(json.dumps({"unchanged": before == after_import, "on_import": imported_calls, "on_call": calls}))
"""


def test_importing_lenet_changes_nothing_and_tuning_does_what_it_says():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["unchanged"] and report["on_import"] == []
    if sys.platform.startswith("linux"):
        assert report["on_call"] == ["mallopt"]  # the spy works: it sees the explicit call (ctypes caches it)
