"""deploy/nginx.conf as Debian's nginx serves it: what it tells a browser about the server, and the
app's own words for a file that is too large. nginx alone, in front of a replica that isn't there:
what is checked here is nginx's answer, before anything reaches a replica."""
from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy.replicas import free_ports, nginx_path, render
from deploy.supervise import running
from lenet.ink import MAX_UPLOAD_MB
from tests.conftest import HANG_S
from ui.common.i18n import Text

pytestmark = pytest.mark.skipif(nginx_path() is None,
                                reason="needs Debian's nginx: `sudo apt-get install nginx` (.ci/run installs it)")


@pytest.fixture
def front(tmp_path: Path):
    """nginx on a free port, its one replica (r1) on the next port, where nothing listens."""
    port = free_ports(1)
    (tmp_path / "nginx.conf").write_text(render(port, [port + 1], tmp_path))
    command = [nginx_path(), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"]
    with running(command, {}, subprocess.DEVNULL):
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"


def answer(request: urllib.request.Request | str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(request, timeout=30) as got:
            return got.status, dict(got.headers), got.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_nginx_names_no_version_and_no_address(front):
    # failed at 95003f1: "Server: nginx/1.22.1", and X-Lenet-Replica: 127.0.0.1:<port>
    status, headers, body = answer(front + "/")
    assert status == 502  # the replica is not there: nginx's own page
    assert headers["Server"] == "nginx" and "nginx/" not in body
    assert headers["X-Lenet-Replica"] == "r1" and "127.0.0.1" not in str(headers)


def test_a_body_over_the_app_s_limit_gets_the_app_s_own_words(front):
    # failed at 95003f1: nginx's bare "413 Request Entity Too Large" page
    request = urllib.request.Request(front + "/_stcore/upload_file/x/y", data=b"0" * ((MAX_UPLOAD_MB + 2) * 2**20),
                                     method="PUT")
    status, _, body = answer(request)
    assert status == 413
    for lang in ("en", "zh"):
        said = Text(lang)("msg.image.too_big", limit_mb=MAX_UPLOAD_MB)
        assert said.lower() in body.lower()  # the app's sentence (lenet/messages.py), in both languages
