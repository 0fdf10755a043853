"""Four web processes full of inbox sockets, one ingest stream on a fifth: every socket gets every event.

Five uvicorn processes share PostgreSQL and Redis. The sockets, spread evenly over the four web
processes, are opened by client processes of their own (`tests/reliability/swarm.py`); one Meta-like
sender posts signed webhooks at a steady rate to the fifth. Each socket must get every event of the
log, once and in order. Printed: p50/p99/max from post to frame, and each server's CPU while the stream
ran. The CI run holds 250 sockets a process; `-m long` holds the full 5,000 a process (20,000 sockets).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from store.eventlog import last_seq
from tests.realtime.helpers import make_token
from tests.reliability.clients import REPORTED, WEBHOOK, db_last_seq
from tests.reliability.cluster import HubProcess
from tests.reliability.swarm import SwarmProcess, stamp_text
from tests.support import signed_headers
from webhook import samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

WEB_PROCESSES = 4
CUSTOMERS = [f"1555750{index:04d}" for index in range(8)]
TICK = os.sysconf("SC_CLK_TCK")
IDLE_SECONDS = 3.0


@dataclass(frozen=True)
class Scale:
    sockets_per_process: int
    client_processes: int
    events: int
    events_per_second: float


# A web process writes about 8,700 frames per CPU-second and a client process reads about 15,000 (the CI
# run's figures), so two cores carry some 11,000 frames/s in all: 4 events/s to 1,000 sockets, and no
# more than about half an event per second to 20,000 (docs/performance.md, "Capacity").
CI = Scale(sockets_per_process=250, client_processes=2, events=40, events_per_second=4.0)
FULL = Scale(sockets_per_process=5000, client_processes=4, events=30, events_per_second=0.25)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def percentile_of(histogram: Counter[int], fraction: float) -> int:
    total = sum(histogram.values())
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= fraction * total:
            return value
    return 0


async def stream(base: str, scale: Scale, post_seconds: list[float]) -> Counter[str]:
    """One sender at a steady rate; each message's text carries the time it was posted."""
    answers: Counter[str] = Counter()
    interval = 1 / scale.events_per_second
    async with httpx.AsyncClient(timeout=30) as client:
        began = time.monotonic()
        for index in range(scale.events):
            await asyncio.sleep(max(0.0, began + index * interval - time.monotonic()))
            message = samples.text_message(
                f"wamid.four.{uuid.uuid4().hex}", CUSTOMERS[index % 8], stamp_text(index), int(time.time())
            )
            body = samples.encode(samples.envelope([message]))
            # Meta retries until it gets a 200; so does this sender.
            for _ in range(20):
                posted = time.monotonic()
                response = await client.post(base + WEBHOOK, content=body, headers=signed_headers(body))
                post_seconds.append(time.monotonic() - posted)
                answers[str(response.status_code)] += 1
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.2)
    return answers


def start_all(servers: list[HubProcess]) -> None:
    # Two at a time: on two cores, five interpreters importing Django at once start slower than that.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(HubProcess.start, servers))


def stop_all(servers: list[HubProcess]) -> None:
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(HubProcess.stop, servers))


@dataclass
class Run:
    """What one scenario measured, before it is judged."""

    opened: list[dict[str, Any]]
    handshake_seconds: float
    open_sockets: dict[str, float]
    answers: Counter[str]
    post_seconds: list[float]
    reports: list[dict[str, Any]]
    events: int
    wall: float
    # CPU-seconds per process during the stream, and per second while the sockets sat idle.
    cpu: dict[str, float]
    idle_cpu_rate: dict[str, float]


def cpu_snapshot(processes: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in processes.items()}


def run_scenario(scale: Scale, token: str, start: int) -> Run:
    total = scale.sockets_per_process * WEB_PROCESSES
    # No drain on the way out: the scenario is over by then.
    env = {"HUB_DB_POOL_MAX": "5", "HUB_DRAIN_SECONDS": "0"}
    with ExitStack() as stack:
        servers = [HubProcess(f"web{i}", server="uvicorn", env=env) for i in range(1, WEB_PROCESSES + 1)]
        ingest = HubProcess("ingest", server="uvicorn", env=env)
        stack.callback(stop_all, [*servers, ingest])
        start_all([*servers, ingest])
        urls = [s.ws_base for s in servers]
        swarms = [
            SwarmProcess(urls, total // scale.client_processes, token, start)
            for _ in range(scale.client_processes)
        ]
        for swarm in swarms:
            stack.callback(swarm.stop)
        began = time.monotonic()
        opened = [swarm.read_line() for swarm in swarms]
        handshake_seconds = time.monotonic() - began
        open_sockets = {s.name: s.metric("hub_open_sockets", token) for s in servers}

        processes = {s.name: s.pid for s in [*servers, ingest]}
        processes.update({f"client{i}": w.process.pid for i, w in enumerate(swarms)})
        # What the processes spend with every socket open and no event (the log poll, keepalives).
        idle_from = cpu_snapshot(processes)
        time.sleep(IDLE_SECONDS)
        cpu_before = cpu_snapshot(processes)
        idle_rate = {name: (cpu_before[name] - idle_from[name]) / IDLE_SECONDS for name in processes}
        stream_began = time.monotonic()
        post_seconds: list[float] = []
        answers = asyncio.run(stream(ingest.base, scale, post_seconds))
        end = db_last_seq()
        reports = [swarm.finish(end) for swarm in swarms]
        wall = time.monotonic() - stream_began
        cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_snapshot(processes).items()}
    return Run(
        opened,
        handshake_seconds,
        open_sockets,
        answers,
        post_seconds,
        reports,
        end - start,
        wall,
        cpu,
        idle_rate,
    )


def figures_of(scale: Scale, run: Run) -> dict[str, Any]:
    latencies: Counter[int] = Counter()
    for report in run.reports:
        latencies.update({int(ms): n for ms, n in report["latency_ms"].items()})
    return {
        "sockets": scale.sockets_per_process * WEB_PROCESSES,
        "events": run.events,
        "handshake_s": round(run.handshake_seconds, 1),
        "open_sockets": run.open_sockets,
        **{key: sum(r[key] for r in run.reports) for key in ("frames", "lost", "duplicated", "out_of_order")},
        "closed_early": sum(r["closed_early"] for r in run.reports),
        "ended": dict(sum((Counter(r["ended"]) for r in run.reports), Counter())),
        "answers": dict(run.answers),
        "p50_ms": percentile_of(latencies, 0.5),
        "p99_ms": percentile_of(latencies, 0.99),
        "max_ms": max(latencies, default=0),
        "post_p50_ms": round(1000 * sorted(run.post_seconds)[len(run.post_seconds) // 2]),
        "wall_s": round(run.wall, 1),
        "cpu_s": {name: round(seconds, 2) for name, seconds in run.cpu.items()},
        "cpu_pct_of_a_core": {name: round(100 * seconds / run.wall, 1) for name, seconds in run.cpu.items()},
        "idle_cpu_pct": {name: round(100 * rate, 1) for name, rate in run.idle_cpu_rate.items()},
        # What a core delivers: frames written per CPU-second of each web process, its idle share included.
        "frames_per_cpu_s": {
            name: round(scale.sockets_per_process * run.events / run.cpu[name]) if run.cpu[name] else 0
            for name in run.open_sockets
        },
    }


@pytest.mark.parametrize(
    "scale",
    [pytest.param(CI, id="ci"), pytest.param(FULL, id="full", marks=[pytest.mark.long, pytest.mark.scale])],
)
def test_four_web_processes_every_socket_gets_every_event_in_order(scale: Scale) -> None:
    token = make_token("four-processes")
    start = last_seq()
    run = run_scenario(scale, token, start)
    figures = figures_of(scale, run)
    line = f"[four web processes, {scale.sockets_per_process} sockets each] " + " ".join(
        f"{key}={value}" for key, value in figures.items()
    )
    print(line)
    REPORTED.append(line)

    per_swarm = scale.sockets_per_process * WEB_PROCESSES // scale.client_processes
    assert [o["connected"] for o in run.opened] == [per_swarm] * scale.client_processes, line
    assert run.open_sockets == dict.fromkeys(run.open_sockets, float(scale.sockets_per_process)), line
    assert dict(run.answers) == {"200": scale.events}, line
    assert run.events >= scale.events, line
    assert figures["frames"] == figures["sockets"] * run.events, line
    assert [figures[k] for k in ("lost", "duplicated", "out_of_order", "closed_early")] == [0, 0, 0, 0], line
