"""How big each scenario is in the full run and in `--smoke`, and what every scenario shares."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
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
    # Scenario 1: seconds per load level, client request cap per level, concurrency levels.
    ingest_seconds: float = 5.0
    ingest_max_requests: int = 20_000
    ingest_levels: tuple[int, ...] = (1, 16, 64)
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
    # Scenario 5: missed events a reconnecting client replays; repetitions.
    replay_events: int = 10_000
    replay_runs: int = 3
    # Scenario 6: tiny messages in the one big body (33,000 make about 3.9 MiB).
    big_body_messages: int = 33_000
    # Hard bound of each scenario, seconds (the socket scenarios run the hub under both servers).
    bounds: dict[str, float] = field(
        default_factory=lambda: {
            "ingest": 170,
            "latency": 240,
            "fanout": 170,
            "connections": 180,
            "replay": 90,
            "big_body": 120,
        }
    )

    @property
    def compared_servers(self) -> tuple[str, ...]:
        """The servers the socket scenarios' comparison rows run the hub under."""
        return tuple(server for server in HUB_SERVERS if server != self.socket_server)


FULL = Plan(mode="full")
SMOKE = Plan(
    mode="smoke",
    ingest_seconds=0.5,
    ingest_max_requests=300,
    ingest_levels=(1, 4),
    batch_size=10,
    customers_per_client=20,
    latency_subscribers=(1, 10),
    slow_seconds=1.0,
    fast_seconds=1.0,
    fanout_sockets=20,
    fanout_rate_seconds=1.0,
    fanout_burst=100,
    idle_sockets=50,
    replay_events=300,
    replay_runs=1,
    big_body_messages=8_000,
    bounds={"ingest": 40, "latency": 60, "fanout": 60, "connections": 40, "replay": 30, "big_body": 60},
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
