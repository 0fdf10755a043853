"""The lock files in requirements/ agree with pyproject.toml: every dependency is pinned, with hashes,
inside its range, and the two locks pin the same version of every package they share."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
PROD_LOCK = REPO_ROOT / "requirements" / "prod.txt"
DEV_LOCK = REPO_ROOT / "requirements" / "dev.txt"
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^ ;\\]+)(?: ;([^\\]+))? \\$", re.MULTILINE)


def pins(lock: Path) -> dict[str, set[str]]:
    """name -> pinned versions (a universal lock may pin two, under exclusive markers)."""
    found: dict[str, set[str]] = {}
    for name, version, _marker in PIN.findall(lock.read_text()):
        found.setdefault(canonicalize_name(name), set()).add(version)
    return found


def requirements(*extras: str) -> list[Requirement]:
    lines = [
        *PROJECT["dependencies"],
        *(line for extra in extras for line in PROJECT["optional-dependencies"][extra]),
    ]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(
    ("lock", "extras"), [(PROD_LOCK, ("uvicorn",)), (DEV_LOCK, ("uvicorn", "test", "bench"))]
)
def test_lock_pins_every_dependency_inside_its_range(lock: Path, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    for requirement in requirements(*extras):
        versions = pinned.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is not in {lock.name}: run python3 scripts/lock.py"
        assert all(requirement.specifier.contains(v, prereleases=True) for v in versions), (
            requirement,
            versions,
        )


def test_lock_every_pin_has_a_hash_and_both_locks_agree() -> None:
    for lock in (PROD_LOCK, DEV_LOCK):
        text = lock.read_text()
        assert text.count("==") > 0
        for block in re.split(r"\n(?=[A-Za-z0-9])", text):
            if PIN.match(block):
                assert "--hash=sha256:" in block, block.splitlines()[0]
    prod, dev = pins(PROD_LOCK), pins(DEV_LOCK)
    assert {name: dev.get(name) for name in prod} == prod
