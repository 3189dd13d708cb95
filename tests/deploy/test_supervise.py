"""A lesson outlives a crashed replica: `make serve-replicas` (behind_nginx) starts a replica that was
killed (`kill -9`) again on its port with its environment, nginx sends its students' requests to the
other replica meanwhile and back to it once it is up, and the replicas share a Redis that answers.
Real processes: Debian's nginx and redis-server, and two replicas of the app; and, for the
supervisor's own rules, `sh`."""
from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from deploy.redis import redis_path
from deploy.replicas import behind_nginx, free_ports, nginx_path
from deploy.supervise import Supervisor

pytestmark = pytest.mark.process
needs_servers = pytest.mark.skipif(
    nginx_path() is None or redis_path() is None,
    reason="needs Debian's nginx and redis-server: `sudo apt-get install nginx redis-server` (.ci/run installs them)")

BACK_S = 120.0  # a replica starts in several seconds on a 2-core machine; far more is a hang, not a target


def through_nginx(url: str, key: str) -> tuple[int, str]:
    """The status and the answering replica's name of a request that carries sticky key `key`."""
    request = urllib.request.Request(f"{url}/_stcore/health", headers={"Cookie": f"lenet_replica={key}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, answer.headers["X-Lenet-Replica"]


def key_of(url: str, replica: str) -> str:
    """A sticky key that nginx sends to `replica` while every replica is up."""
    for i in range(200):
        if through_nginx(url, f"k{i}")[1] == replica:
            return f"k{i}"
    raise AssertionError(f"nginx sent 200 keys elsewhere than {replica}")


def answers(url: str) -> bool:
    """Whether the replica at `url` itself answers /_stcore/health."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return answer.read() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def environment(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode().split("=", 1) for p in pairs if b"=" in p)


@needs_servers
def test_a_killed_replica_is_started_again_and_its_students_are_served_meanwhile(tmp_path, capfd):
    with behind_nginx(2, free_ports(2), env={"LENET_RUNS": str(tmp_path / "runs")}, quiet=True) as served:
        assert redis.Redis.from_url(served.redis_url).ping()
        key = key_of(served.url, "r1")
        killed, other = served.process("r1"), served.process("r2")
        assert environment(killed.pid)["REDIS_URL"] == served.redis_url

        os.kill(killed.pid, signal.SIGKILL)  # kill -9
        assert until(lambda: not answers(served.replicas["r1"]), 10)
        assert through_nginx(served.url, key) == (200, "r2")  # r1's student, answered by r2
        assert not answers(served.replicas["r1"])  # … while r1 was still down

        assert until(lambda: answers(served.replicas["r1"]), BACK_S), "r1 was not started again"
        again = served.process("r1")
        assert again.pid != killed.pid and again.poll() is None
        assert {k: environment(again.pid)[k] for k in ("LENET_REPLICA", "LENET_RUNS", "REDIS_URL")} == {
            "LENET_REPLICA": "r1", "LENET_RUNS": str(tmp_path / "runs"), "REDIS_URL": served.redis_url}
        assert served.process("r2") is other and other.poll() is None  # r2 kept serving, untouched
        assert served.restarts() == {"redis": 0, "r1": 1, "r2": 0, "nginx": 0}
        # nginx tries r1 again within its fail_timeout (5 s), and r1's students are back on it
        assert until(lambda: through_nginx(served.url, key) == (200, "r1"), 30)
    assert "replica r1 stopped (exit code -9): starting it again" in capfd.readouterr().err
    assert again.poll() is not None and other.poll() is not None  # the end of the block stopped them


def test_a_stopped_process_is_started_again_with_its_environment_until_the_supervisor_stops(capfd):
    with Supervisor(poll_s=0.05) as supervisor:
        first = supervisor.start("s", "sleeper s", ["sleep", "60"], {"LENET_REPLICA": "s", "PATH": "/usr/bin:/bin"})
        supervisor.watch()
        first.kill()
        assert until(lambda: supervisor.process("s") is not first, 10)
        again = supervisor.process("s")
        assert environment(again.pid)["LENET_REPLICA"] == "s" and supervisor.restarts() == {"s": 1}
    assert again.poll() is not None  # stopped with the supervisor, and not started again
    assert supervisor.restarts() == {"s": 1}
    assert "sleeper s stopped (exit code -9): starting it again" in capfd.readouterr().err


def test_a_process_that_cannot_start_is_tried_ever_more_slowly(capfd):
    with Supervisor(poll_s=0.05) as supervisor:
        supervisor.start("f", "failing f", ["sh", "-c", "exit 3"], {"PATH": "/usr/bin:/bin"})
        supervisor.watch()
        time.sleep(2)
    # waits of 0, 0.05, 0.1, 0.2, 0.4, 0.8 s: about 6 starts in 2 s, where one each poll would be 40
    assert 2 <= supervisor.restarts()["f"] <= 8
    assert "failing f stopped (exit code 3): starting it again" in capfd.readouterr().err
