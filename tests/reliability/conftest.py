"""The reliability suite: registers its `long` marker and repeats every scenario's figures and timing."""

from __future__ import annotations

import pytest

from tests.reliability.clients import REPORTED

_timings: list[tuple[str, float]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "long: a reliability scenario that runs for a minute or more (select with -m long)"
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/reliability/" in report.nodeid:
        _timings.append((report.nodeid, report.duration))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTED and not _timings:
        return
    terminalreporter.section("reliability figures")
    for line in REPORTED:
        terminalreporter.write_line(line)
    for nodeid, seconds in _timings:
        terminalreporter.write_line(f"{seconds:7.1f}s  {nodeid}")
    terminalreporter.write_line(f"{sum(s for _, s in _timings):7.1f}s  in all")
