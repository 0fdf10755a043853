"""The reliability suite: its shared set-up (hub processes, a fake Graph API), its `long` marker, and a
summary repeating every scenario's figures and timing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from outbound.fake_graph import FakeGraph
from tests.reliability.clients import REPORTED
from tests.reliability.cluster import HubProcess, StartHub

_timings: list[tuple[str, float]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "long: a reliability scenario that runs for a minute or more (select with -m long)"
    )


def _hub_starter() -> tuple[StartHub, Callable[[], None]]:
    started: list[HubProcess] = []

    def start(name: str, **options: Any) -> HubProcess:
        hub = HubProcess(name, **options)
        started.append(hub)
        return hub.start()

    def stop_all() -> None:
        for hub in reversed(started):
            hub.stop()

    return start, stop_all


@pytest.fixture
def start_hub() -> Iterator[StartHub]:
    """`start_hub(name, server=..., env=..., args=...)` starts a hub process (tests/reliability/cluster.py)
    that is stopped when the test ends, however it ends."""
    start, stop_all = _hub_starter()
    yield start
    stop_all()


@pytest.fixture(scope="module")
def start_module_hub(django_db_setup: None, django_db_blocker: Any) -> Iterator[StartHub]:
    """`start_hub` for a module's tests to share one process (starting one takes seconds)."""
    start, stop_all = _hub_starter()

    def start_with_database(name: str, **options: Any) -> HubProcess:
        # The process is given the test database's name, which needs the settings pytest-django made.
        with django_db_blocker.unblock():
            return start(name, **options)

    yield start_with_database
    stop_all()


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    """Meta's Graph API, faked on loopback in its real wire format (outbound/fake_graph.py)."""
    with FakeGraph() as fake:
        yield fake


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
