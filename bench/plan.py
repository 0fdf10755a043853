"""How big each scenario is in the full run and in `--smoke`, and what every scenario shares."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from bench.servers import HUB_SERVERS


def socket_server_choice() -> str:
    """The server of the socket scenarios' target rows: `BENCH_SOCKET_SERVER`, daphne by default."""
    return os.environ.get("BENCH_SOCKET_SERVER", "daphne")


@dataclass(frozen=True)
class Plan:
    mode: str
    # The socket scenarios (latency, fan-out, connections, replay) measure the hub under this server for
    # their target rows, and under every other one of bench.servers.HUB_SERVERS for `<scenario>.<server>.*`
    # comparison rows.
    socket_server: str = field(default_factory=socket_server_choice)
    # The server the production images run (Dockerfile, fly.toml): the scale rows (handshakes, many
    # sockets, reconnect storm) measure the hub under it.
    production_server: str = "uvicorn"
    # Scenario 1: seconds per load level, client request cap per level, concurrency levels.
    ingest_seconds: float = 5.0
    ingest_max_requests: int = 20_000
    ingest_levels: tuple[int, ...] = (1, 16, 64)
    # Runs of the judged single-message load (c=16), alternating hub and bare; the row takes the medians.
    ingest_repeats: int = 3
    batch_size: int = 50
    # Distinct customers each POST client cycles through (their conversations are created in warm-up).
    customers_per_client: int = 500
    # Scenario 2: subscriber counts; seconds at 2 events/s and at half the ingest limit.
    latency_subscribers: tuple[int, ...] = (1, 100, 1000)
    slow_rate: float = 2.0
    slow_seconds: float = 10.0
    fast_seconds: float = 5.0
    # Scenario 3: sockets, the low rate and its duration, and the burst sent flat out.
    fanout_sockets: int = 1000
    fanout_rate: float = 10.0
    fanout_rate_seconds: float = 5.0
    fanout_burst: int = 300
    # Scenario 4: idle authenticated sockets on one process.
    idle_sockets: int = 5000
    # Sockets connecting at once to one process, client connections in flight each (4 clients), runs.
    handshake_sockets: int = 2000
    handshake_concurrency: int = 128
    handshake_runs: int = 3
    # Many idle sockets on one process; events published to all of them; their connect bound.
    many_sockets: int = 15_000
    many_events: int = 5
    many_connect_seconds: float = 600.0
    # Reconnect storm: sockets over two processes, events each dropped socket misses, time bounds.
    storm_sockets: int = 1000
    storm_missed: int = 20
    storm_connect_seconds: float = 400.0
    storm_catch_up_seconds: float = 180.0
    # Messages the full-text search runs over (in a kept database of their own), and its p95 bound.
    search_messages: int = 1_000_000
    search_p95_ms: float = 300.0
    # The event log pruned while webhooks arrive (`--long`): its size, the POST rate, each window's length.
    prune_events: int = 10_000_000
    prune_rate: float = 50.0
    prune_seconds: float = 20.0
    # Scenario 5: missed events a reconnecting client replays; repetitions.
    replay_events: int = 10_000
    replay_runs: int = 3
    # Scenario 6: tiny messages in the one big body (33,000 make about 3.9 MiB).
    big_body_messages: int = 33_000
    # Hard bound of each scenario, seconds (the socket scenarios run the hub under both servers).
    bounds: dict[str, float] = field(
        default_factory=lambda: {
            "ingest": 230,
            "latency": 240,
            "fanout": 170,
            "connections": 180,
            "handshakes": 200,
            "storm": 200,
            "many_sockets": 1500,
            # The first run fills a million messages; later runs keep them.
            "search": 900,
            "replay": 90,
            "big_body": 120,
        }
    )

    @property
    def compared_servers(self) -> tuple[str, ...]:
        """The servers the socket scenarios' comparison rows run the hub under."""
        return tuple(server for server in HUB_SERVERS if server != self.socket_server)


FULL = Plan(mode="full")
# `--long`: the rows too slow for the default run, at the sizes the targets name.
LONG = replace(
    FULL,
    mode="long",
    handshake_sockets=5000,
    storm_sockets=10_000,
    storm_connect_seconds=900.0,
    # The first long run fills ten million events; later runs top them up.
    bounds=FULL.bounds | {"handshakes": 600, "storm": 1500, "prune": 2400},
)
# Scenarios only `--long` runs (the default run's rows say so); the default run's scenarios it repeats.
LONG_ONLY = ("many_sockets", "prune")
LONG_SCENARIOS = ("handshakes", "storm", "many_sockets", "prune")
SMOKE = Plan(
    mode="smoke",
    ingest_seconds=0.5,
    ingest_max_requests=300,
    ingest_levels=(1, 4),
    ingest_repeats=2,
    batch_size=10,
    customers_per_client=20,
    latency_subscribers=(1, 10),
    slow_seconds=1.0,
    fast_seconds=1.0,
    fanout_sockets=20,
    fanout_rate_seconds=1.0,
    fanout_burst=100,
    idle_sockets=50,
    handshake_sockets=60,
    handshake_runs=1,
    many_sockets=60,
    many_events=2,
    many_connect_seconds=30,
    storm_sockets=40,
    storm_missed=5,
    storm_connect_seconds=30,
    storm_catch_up_seconds=30,
    search_messages=5000,
    prune_events=20_000,
    prune_rate=20.0,
    prune_seconds=2.0,
    replay_events=300,
    replay_runs=1,
    big_body_messages=8_000,
    bounds={
        "ingest": 40,
        "latency": 60,
        "fanout": 60,
        "connections": 40,
        "handshakes": 40,
        "many_sockets": 60,
        "storm": 60,
        "search": 120,
        "prune": 90,
        "replay": 30,
        "big_body": 60,
    },
)


@dataclass
class Context:
    """What the scenarios share: the plan, the services, the hub's environment and earlier figures."""

    plan: Plan
    env: dict[str, str]
    database_url: str
    redis_url: str
    token: str
    run_id: str = field(default_factory=lambda: f"{int(time.time())}")
    # Figures one scenario leaves for another (the ingest limit for scenario 2).
    shared: dict[str, Any] = field(default_factory=dict)
    # Rows measured so far; a scenario adds each as soon as it has it, so a timeout keeps them.
    rows: dict[str, Any] = field(default_factory=dict)

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
