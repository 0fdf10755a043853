"""Set up and serve the hub on http://127.0.0.1:8000 (embedded default unless the environment says otherwise).

python3 scripts/serve.py            # install, migrate, serve
python3 scripts/serve.py --port 9000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from _venv import ROOT, ensure_venv


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args()
    python = str(ensure_venv())
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hub.settings"}
    subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    print(f"serving the hub on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    server = [python, "-m", "daphne", "-b", args.host, "-p", args.port, "asgi:application"]
    try:
        return subprocess.call(server, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
