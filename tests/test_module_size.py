"""No module of the app packages grows past 400 lines: past that, it is split by verb."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("hub", "store", "api", "webhook", "realtime", "outbound", "console")
MAX_LINES = 400


def test_module_size_app_packages_stay_within_400_lines() -> None:
    modules = [
        path
        for package in APP_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    ]
    assert len(modules) > 50
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}
