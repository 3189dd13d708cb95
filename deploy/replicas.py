"""`make serve-replicas N=2 PORT=8600`: N copies of the app behind Debian's nginx, in the foreground.

    python -m deploy.replicas --replicas 2 --port 8600

Replica i listens on 127.0.0.1:PORT+i, named ri (LENET_REPLICA), all sharing one LENET_RUNS, so
they list the same saved runs, collections and boards and share the live run
(lenet/classroom/replicas.py), and one Redis (REDIS_URL): Debian's redis-server on the first free
port after theirs (deploy/redis.py), or the school's own if REDIS_URL is set, and then none is
started. nginx serves them at PORT with sticky sessions (deploy/nginx.conf).

A lesson outlives a crash: a replica that stops is started again on its port with its environment,
while nginx sends its students to the others (deploy/supervise.py); so are nginx and redis-server.
Only Ctrl-C or SIGTERM stops them all. `behind_nginx()` is the same as a context manager, for the
tests and bench/classroom.py.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from deploy.redis import command as redis_command
from deploy.redis import wait_until_up as redis_up
from deploy.supervise import Supervisor

CONF = Path(__file__).with_name("nginx.conf")
START_S = 120  # a replica answers /_stcore/health within this, even on a busy machine
# A replica that refuses a connection is left out for this long, then tried again: while it is down
# its students' requests go to the next replica on nginx's hash ring (deploy/nginx.conf's `hash
# ... consistent`, with nginx's default `proxy_next_upstream error timeout`), and within this long
# of being back it has them again.
FAIL_TIMEOUT_S = 5


@dataclass(frozen=True)
class Served:
    url: str  # through nginx: what students open
    replicas: dict[str, str]  # replica name -> its own URL, behind nginx
    prefix: Path  # nginx's folder: its config, pid and access.log
    redis_url: str  # the Redis every replica uses (REDIS_URL): ours, or the school's own
    supervisor: Supervisor = field(repr=False, compare=False)  # restarts what stops (deploy/supervise.py)

    def process(self, name: str) -> subprocess.Popen:
        """The current process of replica `name` ("r1"), or of "nginx" or "redis" (ours only): a new
        one after each restart, so it is asked for each time, never kept."""
        return self.supervisor.process(name)

    @property
    def processes(self) -> tuple[subprocess.Popen, ...]:
        """The replicas' current processes, then nginx's (whose memory bench/servers.py counts)."""
        return tuple(self.process(name) for name in (*self.replicas, "nginx"))

    def restarts(self) -> dict[str, int]:
        """How many times each process ("r1" …, "nginx", "redis") was started again."""
        return self.supervisor.restarts()


def free_ports(count: int) -> int:
    """A free port with the `count` ports after it free too: nginx's, then one per replica."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count < 65535 and all(_free(base + i) for i in range(1, count + 1)):
            return base
    raise RuntimeError("no run of free ports on this machine")


def free_port_after(port: int) -> int:
    """The first free port after `port`: redis-server's, next to the replicas', so that a school
    sees the same one each lesson (8603 for `--port 8600 --replicas 2`)."""
    for candidate in range(port + 1, min(port + 101, 65536)):
        if _free(candidate):
            return candidate
    raise RuntimeError(f"no free port in the 100 after {port}")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def nginx_path() -> str | None:
    """Where Debian's nginx is (/usr/sbin is not on every user's PATH), or None."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None)


def nginx() -> str:
    """Debian's nginx binary; SystemExit saying how to install it if there is none."""
    found = nginx_path()
    if found is None:
        raise SystemExit("nginx is not installed: `sudo apt-get install nginx` (Debian), then try again")
    return found


def render(port: int, ports: list[int], prefix: Path) -> str:
    """deploy/nginx.conf with its four values filled in (replica i is named r<i>, as LENET_REPLICA says).

    A replica is named by the last address in $upstream_addr, the one that answered: after a
    refused connection it reads "127.0.0.1:8601, 127.0.0.1:8602", and r2 answered."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout={FAIL_TIMEOUT_S}s;" for p in ports)
    names = "\n".join(f"        ~127\\.0\\.0\\.1:{p}$ r{i};" for i, p in enumerate(ports, 1))
    return Template(CONF.read_text()).safe_substitute(LENET_PORT=port, LENET_SERVERS=servers, LENET_PREFIX=prefix,
                                                      LENET_NAMES=names)


@contextmanager
def behind_nginx(replicas: int, port: int, env: dict[str, str] | None = None, quiet: bool = False) -> Iterator[Served]:
    """Start Redis, `replicas` app servers and nginx in front of them, each started again when it
    stops while the block runs; stop them all afterwards, whatever happens. `env` is added to the
    replicas' environment (LENET_RUNS, a teacher key); a REDIS_URL there or in ours is a Redis of
    the school's own, and then none is started."""
    if replicas < 1:
        raise ValueError("at least one replica")
    binary = nginx()
    prefix = Path(tempfile.mkdtemp(prefix="lenet-nginx-"))
    ports = [port + i for i in range(1, replicas + 1)]
    (prefix / "nginx.conf").write_text(render(port, ports, prefix))
    environ = os.environ | (env or {})
    with Supervisor(subprocess.DEVNULL if quiet else None) as supervisor:
        redis_url = environ.get("REDIS_URL") or start_redis(supervisor, free_port_after(ports[-1]))
        replica_urls = {f"r{i}": f"http://127.0.0.1:{p}" for i, p in enumerate(ports, 1)}
        for i, p in enumerate(ports, 1):
            supervisor.start(f"r{i}", f"replica r{i}", [
                sys.executable, "-m", "deploy.serve", "--server.headless", "true", "--server.port", str(p),
                "--server.address", "127.0.0.1"], environ | {"LENET_REPLICA": f"r{i}", "REDIS_URL": redis_url})
        for name, url in replica_urls.items():
            wait_until_up(url, supervisor.process(name))
        front = supervisor.start("nginx", "nginx", [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                                    "-g", "daemon off;"], dict(os.environ))
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, front)
        supervisor.watch()
        yield Served(url=url, replicas=replica_urls, prefix=prefix, redis_url=redis_url, supervisor=supervisor)
    shutil.rmtree(prefix, ignore_errors=True)


def start_redis(supervisor: Supervisor, port: int) -> str:
    """Debian's redis-server on `port` (deploy/redis.py: foreground, 127.0.0.1, nothing saved), under
    `supervisor`, so that it is started again on the same port if it stops: the replicas keep their
    REDIS_URL, and find an empty Redis, which they tolerate. Returns its URL once it answers PING."""
    proc = supervisor.start("redis", "redis-server", redis_command(port), dict(os.environ))
    redis_up(port, proc)
    return f"redis://127.0.0.1:{port}/0"


def replicas_by_key(prefix: Path) -> dict[str, set[str]]:
    """From nginx's access log (deploy/nginx.conf's `lenet` format): for each sticky key, every
    replica address that answered its requests. One each means no session moved. A request that a
    stopped replica refused and another answered logs both ("127.0.0.1:8601, 127.0.0.1:8602"): the
    last one answered it."""
    seen: dict[str, set[str]] = {}
    for line in (prefix / "access.log").read_text().splitlines():
        fields = line.split(' "', 1)[0].split(" ")  # $msec $cookie $sticky $upstream_addr… $status
        sticky, upstream = fields[2], re.split(r", | : ", " ".join(fields[3:-1]))[-1]
        if upstream != "-":  # not sent on: nginx answered it itself
            seen.setdefault(sticky, set()).add(upstream)
    return seen


def wait_until_up(url: str, proc: subprocess.Popen) -> None:
    """Return once the app (or nginx) at `url` answers /_stcore/health; RuntimeError if `proc` ends
    first or START_S pass."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{' '.join(proc.args[:3])} did not start (exit code {proc.poll()})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make serve-replicas", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="copies of the app (default 2)")
    parser.add_argument("--port", type=int, default=8600, help="the port students open (default 8600)")
    args = parser.parse_args(argv)
    if args.replicas < 1 or not 1 <= args.port <= 65535 - args.replicas:
        parser.error("--replicas must be at least 1, and --port a port with room for the replicas after it")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops them all, as Ctrl-C does
    try:
        with behind_nginx(args.replicas, args.port) as served:
            print(f"LeNet Lab: {served.url} ({args.replicas} replicas: {', '.join(served.replicas.values())}; "
                  f"Redis: {served.redis_url}). A replica that stops is started again; Ctrl-C stops them all.",
                  flush=True)
            while True:  # the supervisor's thread does the work; only a signal ends this
                time.sleep(60)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
