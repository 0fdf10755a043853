"""`python3 scripts/serve.py`, the README's first command: one SIGTERM stops everything it started, and
its output has one line per 4xx and no request lines of httpx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import REPO_ROOT

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 120.0


def two_free_ports() -> int:
    """A port whose next one is free too (serve.py puts the fake Graph API there)."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise AssertionError("no two consecutive free ports")


def descendants(root: int) -> set[int]:
    """Every live process below `root`, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_one_sigterm_stops_every_process_and_logs_each_4xx_once(tmp_path: Path) -> None:
    port = two_free_ports()
    started: set[int] = set()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE") and not key.startswith("PYTEST")
    }
    env.update(HUB_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "scripts/serve.py", "--no-install", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while b"console: " not in log_path.read_bytes():
                assert serve.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            assert httpx.get(f"{base}/no-such-page/").status_code == 404
            assert httpx.get(f"{base}/favicon.ico").headers["content-type"] == "image/x-icon"
            # The hub, the fake Graph API and the simulator, which posts its first webhooks meanwhile.
            started = descendants(serve.pid)
            assert len(started) >= 3, started
            time.sleep(3)

            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=30) == 0
        finally:
            if serve.poll() is None:
                serve.kill()
            left = [pid for pid in started if alive(pid)]
            for pid in left:
                os.kill(pid, signal.SIGKILL)  # so that a failure here leaves nothing behind either
    assert left == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/api/health/", timeout=2)

    output = log_path.read_text()
    assert len([line for line in output.splitlines() if "/no-such-page/" in line]) == 1, output
    assert "HTTP Request:" not in output
    assert "Traceback" not in output, output
