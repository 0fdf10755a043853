"""Set up and serve the hub on http://127.0.0.1:8000.

    python3 scripts/serve.py             # install, migrate, serve; embedded mode adds the live demo
    python3 scripts/serve.py --no-demo   # just the hub
    python3 scripts/serve.py --port 9000

Embedded mode (no DATABASE_URL) is SQLite and an in-memory channel layer. Its demo also starts a local
fake of Meta's Graph API (so replies from the console are "delivered" and "read") and a simulator that
posts signed, realistic webhooks, and creates a staff user `demo` whose password it prints.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.request

from _venv import ROOT, ensure_venv

DEMO_USER_SCRIPT = """
from django.contrib.auth.models import User
user, _ = User.objects.get_or_create(username="demo")
user.is_staff = user.is_superuser = True
user.set_password({password!r})
user.save()
"""


def wait_for(url: str, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback URL
                return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    parser.add_argument("--no-demo", action="store_true", help="no fake Graph API, simulator or demo user")
    args = parser.parse_args()
    python = str(ensure_venv())
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hub.settings"}
    demo = not args.no_demo and not env.get("DATABASE_URL")
    helpers: list[subprocess.Popen[bytes]] = []
    hub = f"http://{args.host}:{args.port}"
    if demo:
        graph_port = str(int(args.port) + 1)
        env.setdefault("WHATSAPP_GRAPH_URL", f"http://127.0.0.1:{graph_port}")
        env.setdefault("WHATSAPP_ACCESS_TOKEN", "demo-graph-token")
        env.setdefault("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
        env.setdefault("WHATSAPP_APP_SECRET", "dev-app-secret")
        helpers.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "outbound.fake_graph",
                    "--port",
                    graph_port,
                    "--token",
                    env["WHATSAPP_ACCESS_TOKEN"],
                    "--webhook-url",
                    f"{hub}/api/whatsapp/webhook/",
                    "--app-secret",
                    env["WHATSAPP_APP_SECRET"],
                ],
                cwd=ROOT,
                env=env,
            )
        )
    subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    if demo:
        password = secrets.token_urlsafe(9)
        script = DEMO_USER_SCRIPT.format(password=password)
        subprocess.run([python, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [python, "-m", "daphne", "-b", args.host, "-p", args.port, "asgi:application"], cwd=ROOT, env=env
    )
    try:
        if demo and wait_for(f"{hub}/api/health/"):
            helpers.append(
                subprocess.Popen(
                    [
                        python,
                        "manage.py",
                        "simulate",
                        "--url",
                        hub,
                        "--rate",
                        "0.5",
                        "--duration",
                        "86400",
                        "--report-every",
                        "20",
                        "--graph-url",
                        env["WHATSAPP_GRAPH_URL"],
                    ],
                    cwd=ROOT,
                    env=env,
                )
            )
            print(f"\n  console: {hub}/console/  (user demo, password {password})", flush=True)
            print(f"  API docs: {hub}/api/docs/   admin: {hub}/admin/\n", flush=True)
        else:
            print(f"serving the hub on {hub}/ (Ctrl-C stops it)", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in [*helpers, server]:
            process.terminate()
        for process in [*helpers, server]:
            process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
