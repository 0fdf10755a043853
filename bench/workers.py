"""Load-client processes: each runs one asyncio coroutine and reports once, with its own CPU time.

The machine has two cores, so clients run in their own processes (forked: the orchestrator holds no
threads or event loop while it starts them, and a fork starts in milliseconds where a spawn re-imports
everything), and every report carries the CPU the client used, so a reader can tell whether the
client, not the server, was the limit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import resource
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.context import ForkProcess
from multiprocessing.synchronize import Event
from typing import Any

CONTEXT = multiprocessing.get_context("fork")

Report = dict[str, Any]


@dataclass(frozen=True)
class Signals:
    """A client sets `ready` once connected, starts its load on `go`, and winds down on `stop`."""

    ready: Event
    go: Event
    stop: Event


WorkerMain = Callable[[dict[str, Any], Signals], Coroutine[Any, Any, Report]]


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (thousands of sockets); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(main: WorkerMain, args: dict[str, Any], signals: Signals, out: Any) -> None:
    raise_fd_limit()
    started_cpu, started = cpu_seconds(), time.monotonic()
    try:
        report = asyncio.run(main(args, signals))
    except Exception as error:
        report = {"error": f"{type(error).__name__}: {error}"}
    signals.ready.set()
    wall = time.monotonic() - started
    report["client_cpu_s"] = cpu_seconds() - started_cpu
    report["client_wall_s"] = wall
    out.put(report)


async def wait_event(event: Event, seconds: float) -> bool:
    """Wait for a process event (polled: it cannot be awaited) without blocking the loop; False on timeout."""
    deadline = time.monotonic() + seconds
    while not event.is_set():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@dataclass
class WorkerGroup:
    """Client processes started together: `wait_ready`, `go`, `stop`, then `reports`."""

    processes: list[ForkProcess] = field(default_factory=list)
    readies: list[Event] = field(default_factory=list)
    go_event: Event = field(default_factory=CONTEXT.Event)
    stop_event: Event = field(default_factory=CONTEXT.Event)
    out: Any = field(default_factory=CONTEXT.Queue)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(ready.wait(max(0.0, deadline - time.monotonic())) for ready in self.readies)

    def go(self) -> None:
        self.go_event.set()

    def stop(self) -> None:
        self.go_event.set()
        self.stop_event.set()

    def collect(self, grace: float, timeout: float = 15.0) -> list[Report]:
        """Reports of clients that finish by themselves within `grace` s; then `stop` the rest."""
        reports: list[Report] = []
        deadline = time.monotonic() + grace
        stopping = False
        while len(reports) < len(self.processes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if stopping:
                    break
                self.stop()
                stopping = True
                deadline = time.monotonic() + timeout
                continue
            try:
                reports.append(self.out.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
        reports += [{"error": "client did not report in time"}] * (len(self.processes) - len(reports))
        self.close()
        return reports

    def reports(self, timeout: float = 15.0) -> list[Report]:
        """Stop the clients and collect one report from each."""
        self.stop()
        return self.collect(0.0, timeout)

    def close(self) -> None:
        for process in self.processes:
            process.join(2)
            if process.is_alive():
                process.kill()
                process.join(2)

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        for process in self.processes:
            if process.is_alive():
                process.kill()
                process.join(2)


def start_workers(main: WorkerMain, args_list: list[dict[str, Any]]) -> WorkerGroup:
    group = WorkerGroup()
    for args in args_list:
        ready = CONTEXT.Event()
        signals = Signals(ready=ready, go=group.go_event, stop=group.stop_event)
        process = CONTEXT.Process(target=_run, args=(main, args, signals, group.out))
        process.start()
        group.processes.append(process)
        group.readies.append(ready)
    return group


class CpuWindow:
    """CPU seconds over a measured phase, as a share of one core (1.0 means a saturated client)."""

    def __init__(self) -> None:
        self.cpu, self.wall = cpu_seconds(), time.monotonic()

    def share(self) -> float:
        wall = time.monotonic() - self.wall
        return (cpu_seconds() - self.cpu) / wall if wall > 0 else 0.0

    def seconds(self) -> float:
        return cpu_seconds() - self.cpu


def client_cpu(reports: list[Report]) -> dict[str, float]:
    """The busiest client's share of a core during its measured phase (over its whole run if absent)."""
    shares: list[float] = [
        r.get("load_core_share", r["client_cpu_s"] / r["client_wall_s"])
        for r in reports
        if r.get("client_wall_s")
    ]
    total = sum(float(r.get("load_cpu_s") or r.get("client_cpu_s") or 0.0) for r in reports)
    return {
        "clients": len(reports),
        "max_core_share": round(max(shares, default=0.0), 2),
        "cpu_s": round(total, 2),
    }
