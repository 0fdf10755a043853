"""Set up and serve the hub on http://127.0.0.1:8000.

    python3 scripts/serve.py             # install, migrate, serve; embedded mode adds the live demo
    python3 scripts/serve.py --no-demo   # just the hub
    python3 scripts/serve.py --port 9000
    python3 scripts/serve.py --no-install  # use .venv as it is (no network)

Embedded mode (no DATABASE_URL) is SQLite and an in-memory channel layer. Its demo also starts a local
fake of Meta's Graph API (so replies from the console are "delivered" and "read") and a simulator that
posts signed, realistic webhooks, and creates a staff user `demo` whose password it prints.

One Ctrl-C or one SIGTERM stops every process this script started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from types import FrameType

from _venv import PYTHON, ROOT, ensure_venv

DEMO_USER_SCRIPT = """
from django.contrib.auth.models import User
user, _ = User.objects.get_or_create(username="demo")
user.is_staff = user.is_superuser = True
user.set_password({password!r})
user.save()
"""
# How long each process may take to drain (hub/lifecycle.py) before it is killed.
STOP_SECONDS = 15.0


class Stop(Exception):
    """Raised in the main thread by SIGINT (Ctrl-C) or SIGTERM, so that one cleanup runs for both."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def wait_for(url: str, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback URL
                return True
        except OSError:
            time.sleep(0.2)
    return False


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process still running, wait for all, and kill any that outlive STOP_SECONDS."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    parser.add_argument("--no-demo", action="store_true", help="no fake Graph API, simulator or demo user")
    parser.add_argument("--no-install", action="store_true", help="use .venv as it is")
    args = parser.parse_args()
    # Both, explicitly: a shell that starts this script in the background makes it ignore SIGINT.
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    started: list[subprocess.Popen[bytes]] = []

    def start(*command: str) -> subprocess.Popen[bytes]:
        # A session of its own: a Ctrl-C reaches this script alone, which stops each child in order.
        started.append(subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True))
        return started[-1]

    def run(*command: str) -> None:
        if start(*command).wait() != 0:
            raise subprocess.CalledProcessError(started[-1].returncode, command)

    python = str(PYTHON if args.no_install else ensure_venv())
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hub.settings"}
    demo = not args.no_demo and not env.get("DATABASE_URL")
    hub = f"http://{args.host}:{args.port}"
    try:
        if demo:
            graph_port = str(int(args.port) + 1)
            env.setdefault("WHATSAPP_GRAPH_URL", f"http://127.0.0.1:{graph_port}")
            env.setdefault("WHATSAPP_ACCESS_TOKEN", "demo-graph-token")
            env.setdefault("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
            env.setdefault("WHATSAPP_APP_SECRET", "dev-app-secret")
            # The simulator's account: its webhooks name it, and the fake serves its templates.
            env.setdefault("WHATSAPP_BUSINESS_ACCOUNT_ID", "102290129340398")
            webhook = f"{hub}/api/whatsapp/webhook/"
            start(python, "-m", "outbound.fake_graph", "--port", graph_port, "--token",
                  env["WHATSAPP_ACCESS_TOKEN"], "--webhook-url", webhook,
                  "--app-secret", env["WHATSAPP_APP_SECRET"])  # fmt: skip
        run(python, "manage.py", "migrate", "--noinput")
        if demo:
            password = secrets.token_urlsafe(9)
            run(python, "manage.py", "shell", "-c", DEMO_USER_SCRIPT.format(password=password))
            # The console's template picker offers the fake's templates once the window has closed.
            if wait_for(f"{env['WHATSAPP_GRAPH_URL']}/_fake/sent"):
                run(python, "manage.py", "sync_templates")
        # -v 0: no access log of daphne's own; the hub logs each 4xx and 5xx once (hub/settings.py).
        server = start(
            python, "-m", "daphne", "-v", "0", "-b", args.host, "-p", args.port, "asgi:application"
        )
        if demo and wait_for(f"{hub}/api/health/"):
            start(python, "manage.py", "simulate", "--url", hub, "--rate", "0.5", "--duration", "86400",
                  "--report-every", "20", "--graph-url", env["WHATSAPP_GRAPH_URL"])  # fmt: skip
            print(f"\n  console: {hub}/console/  (user demo, password {password})", flush=True)
            print(f"  API docs: {hub}/api/docs/   admin: {hub}/admin/\n", flush=True)
        else:
            print(f"serving the hub on {hub}/ (Ctrl-C stops it)", flush=True)
        return server.wait()
    except (KeyboardInterrupt, Stop):
        return 0
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    finally:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(started)


if __name__ == "__main__":
    sys.exit(main())
