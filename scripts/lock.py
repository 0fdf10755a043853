"""Resolve pyproject.toml's ranges again into the lock files in requirements/ (needs uv, from PyPI).

    python3 scripts/lock.py             # keep the pinned versions that still fit, add what is new
    python3 scripts/lock.py --upgrade   # the newest versions the ranges allow

prod.txt is what the image installs (the hub and uvicorn); dev.txt adds the test and bench tools with
prod.txt as constraints, so both pin the same version of every package they share.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from _venv import BIN, DEV_LOCK, PROD_LOCK, PYTHON, ROOT

COMMON = ["--universal", "--python-version", "3.11", "--generate-hashes", "--quiet"]
# Extras stay in the output (`coverage[toml]==…`): pip in hash mode otherwise resolves an extra a
# dependency asks for as a separate, unpinned requirement once a newer release exists.
COMMON += ["--no-strip-extras"]
COMMON += ["--custom-compile-command", "python3 scripts/lock.py"]


def uv() -> str:
    found = shutil.which("uv") or (str(BIN / "uv") if (BIN / "uv").exists() else None)
    if found is None:
        subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "uv"], check=True)
        found = str(BIN / "uv")
    return found


def main() -> int:
    extra = sys.argv[1:]
    compile_ = [uv(), "pip", "compile", "pyproject.toml", *COMMON, *extra]
    subprocess.run([*compile_, "--extra", "uvicorn", "-o", str(PROD_LOCK)], cwd=ROOT, check=True)
    extras = ["--extra", "test", "--extra", "bench", "--extra", "uvicorn"]
    subprocess.run([*compile_, *extras, "-c", str(PROD_LOCK), "-o", str(DEV_LOCK)], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
