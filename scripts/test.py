"""Set up and run the whole test suite: lint, types, then pytest (arguments are passed to pytest).

python3 scripts/test.py
python3 scripts/test.py tests/webhook -x
"""

from __future__ import annotations

import os
import subprocess
import sys

from _venv import BIN, ROOT, ensure_venv


def run(*command: str, env: dict[str, str] | None = None) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True, env=env)


def main() -> int:
    python = str(ensure_venv("test,bench"))
    try:
        run(str(BIN / "ruff"), "check", ".")
        run(str(BIN / "ruff"), "format", "--check", ".")
        run(python, "-m", "mypy", ".")
        # Against the embedded default: the migrations must match the models whatever the database.
        embedded = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        run(python, "manage.py", "makemigrations", "--check", "--dry-run", env=embedded)
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    return subprocess.call([python, "-m", "pytest", *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
