"""`make serve-replicas N=2 PORT=8600`: N copies of the app behind Debian's nginx, in the foreground.

    python -m deploy.replicas --replicas 2 --port 8600

Replica i listens on 127.0.0.1:PORT+i, named ri (LENET_REPLICA), all sharing one LENET_RUNS, so
they list the same saved runs, collections and boards and share the live run
(lenet/classroom/replicas.py). nginx serves them at PORT with sticky sessions (deploy/nginx.conf).
Ctrl-C, or any of them stopping, takes all of them down. `behind_nginx()` is the same as a context
manager, for the tests and bench/classroom.py.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template

from lenet.files import ROOT

CONF = Path(__file__).with_name("nginx.conf")
START_S = 120  # a replica answers /_stcore/health within this, even on a busy machine


@dataclass(frozen=True)
class Served:
    url: str  # through nginx: what students open
    replicas: dict[str, str]  # replica name -> its own URL, behind nginx
    prefix: Path  # nginx's folder: its config, pid and access.log
    processes: tuple[subprocess.Popen, ...]  # the replicas, then nginx


def free_ports(count: int) -> int:
    """A free port with the `count` ports after it free too: nginx's, then one per replica."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count < 65535 and all(_free(base + i) for i in range(1, count + 1)):
            return base
    raise RuntimeError("no run of free ports on this machine")


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
    """deploy/nginx.conf with its four values filled in (replica i is named r<i>, as LENET_REPLICA says)."""
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    names = "\n".join(f"        127.0.0.1:{p} r{i};" for i, p in enumerate(ports, 1))
    return Template(CONF.read_text()).safe_substitute(LENET_PORT=port, LENET_SERVERS=servers, LENET_PREFIX=prefix,
                                                      LENET_NAMES=names)


@contextmanager
def behind_nginx(replicas: int, port: int, env: dict[str, str] | None = None, quiet: bool = False) -> Iterator[Served]:
    """Start `replicas` app servers and nginx in front of them; stop them all afterwards, whatever
    happens. `env` is added to the replicas' environment (LENET_RUNS, a teacher key)."""
    if replicas < 1:
        raise ValueError("at least one replica")
    binary = nginx()
    prefix = Path(tempfile.mkdtemp(prefix="lenet-nginx-"))
    ports = [port + i for i in range(1, replicas + 1)]
    (prefix / "nginx.conf").write_text(render(port, ports, prefix))
    out = subprocess.DEVNULL if quiet else None
    with ExitStack() as stack:
        started = []
        for i, p in enumerate(ports, 1):
            environ = os.environ | (env or {}) | {"LENET_REPLICA": f"r{i}"}
            started.append(stack.enter_context(running(
                [sys.executable, "-m", "deploy.serve", "--server.headless", "true", "--server.port", str(p),
                 "--server.address", "127.0.0.1"], environ, out)))
        replica_urls = {f"r{i}": f"http://127.0.0.1:{p}" for i, p in enumerate(ports, 1)}
        for proc, url in zip(started, replica_urls.values(), strict=True):
            wait_until_up(url, proc)
        front = stack.enter_context(running([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                              "-g", "daemon off;"], os.environ, out))
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, front)
        yield Served(url=url, replicas=replica_urls, prefix=prefix, processes=(*started, front))
    shutil.rmtree(prefix, ignore_errors=True)


@contextmanager
def running(command: list[str], env: dict[str, str], out, cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """A process that is stopped (terminated, killed after 30 s) when the block ends, whatever happens."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def replicas_by_key(prefix: Path) -> dict[str, set[str]]:
    """From nginx's access log (deploy/nginx.conf's `lenet` format): for each sticky key, every
    replica address its requests went to. One each means no session moved."""
    seen: dict[str, set[str]] = {}
    for line in (prefix / "access.log").read_text().splitlines():
        _, _, sticky, upstream, *_ = line.split(" ")
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
            print(f"LeNet Lab: {served.url} ({args.replicas} replicas: "
                  f"{', '.join(served.replicas.values())}). Ctrl-C stops them all.", flush=True)
            while all(p.poll() is None for p in served.processes):
                time.sleep(0.5)
            print("a replica or nginx stopped: stopping the rest", file=sys.stderr)
            sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
