"""Creates the local virtual environment and installs the hub into it (shared by serve.py and test.py).

The packages come from the lock files in requirements/ (exact versions with their hashes: the same
install on every machine, CI and the image alike); `pyproject.toml` keeps the ranges they were
resolved from, and `python3 scripts/lock.py` resolves them again.
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
LOCKS = ROOT / "requirements"
# What each lock holds: the server's packages, and those plus the test and bench tools.
PROD_LOCK = LOCKS / "prod.txt"
DEV_LOCK = LOCKS / "dev.txt"
DEV_EXTRAS = frozenset({"test", "bench"})


def lock_for(extras: str) -> Path:
    """The lock file that holds `extras` (comma-separated names of pyproject's optional dependencies)."""
    wanted = {name.strip() for name in extras.split(",") if name.strip()}
    return DEV_LOCK if wanted & DEV_EXTRAS else PROD_LOCK


def ensure_venv(extras: str = "") -> Path:
    """Create `.venv` if missing, install the lock that holds `extras`, then the hub itself (editable)."""
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(lock_for(extras))], cwd=ROOT, check=True)
    # Every dependency is in the lock already: the project alone, without resolving anything again.
    subprocess.run([*pip, "--no-deps", "-e", "."], cwd=ROOT, check=True)
    return PYTHON
