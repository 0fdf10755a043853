"""Many authenticated inbox sockets connecting at once to one hub process (production server) vs bare.

Each socket presents a token of its own (bench.servers.issue_tokens), so every handshake looks its
token up as distinct apps' sockets do. The client processes wait for one `go`, then open their sockets
with `handshake_concurrency` in flight each; the rate is the sockets connected over the time from the
first attempt to the last handshake's end. Runs alternate hub and bare (both servers up throughout);
the row takes the medians. The server's CPU per handshake is in the details, the steadier figure on a
shared machine.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.plan import Context, Plan
from bench.results import RowSpec, latency_ms
from bench.servers import Server, hub_argv, issue_tokens, module_argv, running
from bench.workers import start_workers
from bench.ws_load import sockets_main, split_counts

ROW = "connections.handshakes_per_s"
CLIENTS = 4


def specs(plan: Plan) -> dict[str, RowSpec]:
    title = (
        f"{plan.handshake_sockets} authenticated inbox sockets connecting at once to one process "
        f"({plan.production_server}) vs bare websockets"
    )
    return {ROW: RowSpec("handshakes/s", "higher", 0.5, title=title)}


def burst(ctx: Context, server: Server, url: str, tokens: list[str]) -> dict[str, Any]:
    """Connect a socket per token at once, wait until all are open, then close them all."""
    count = len(tokens)
    args = [
        {
            "url": url,
            "headers": {},
            "tokens": tokens[i::CLIENTS],
            "count": c,
            "socketio": False,
            "record": False,
            "connect_on_go": True,
            "connect_concurrency": ctx.plan.handshake_concurrency,
            "connect_timeout": 120,
        }
        for i, c in enumerate(split_counts(count, CLIENTS))
    ]
    with start_workers(sockets_main, args) as group:
        # Forked clients are ready in milliseconds; give them a moment to reach their wait.
        time.sleep(1.0)
        cpu0 = server.cpu_seconds()
        group.go()
        group.wait_ready(180)
        server_cpu = server.cpu_seconds() - cpu0
        reports = group.reports()
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise RuntimeError(f"socket client failed: {errors[0]}")
    connected = sum(r["connected"] for r in reports)
    refused = sum(sum(r["closed_by_server"].values()) for r in reports)
    span = max(r["connect_ended"] for r in reports) - min(r["connect_started"] for r in reports)
    failures: dict[str, int] = {}
    for r in reports:
        for key, n in r["failures"].items():
            failures[key] = failures.get(key, 0) + n
    figures = {
        "handshakes_per_s": round(connected / span, 1) if span > 0 else None,
        "connected": connected,
        "closed_by_server": refused,
        "failures": failures,
        "span_s": round(span, 2),
        "handshake": latency_ms([ms for r in reports for ms in r["handshakes_ms"]]),
        # Includes what the server spent on the sockets until all were open, not their closing.
        "server_cpu_ms_per_handshake": round(server_cpu / connected * 1000, 3) if connected else None,
        "client_cpu_s": round(sum(r["client_cpu_s"] for r in reports), 2),
    }
    ctx.log(f"  {server.name}: {connected} sockets in {span:.1f} s, {figures['handshakes_per_s']}/s")
    return figures


def run(ctx: Context) -> None:
    plan = ctx.plan
    bare_argv = module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url)
    hub_runs, bare_runs = [], []
    with (
        running("handshake-hub", hub_argv(plan.production_server), ctx.env) as hub,
        running("handshake-websockets", bare_argv, ctx.env) as bare,
    ):
        hub_url, bare_url = hub.url("/ws/whatsapp/inbox/", "ws"), bare.url("/", "ws")
        # Warm-up: the consumer code, the auth path and the fan-out's subscription.
        burst(ctx, hub, hub_url, issue_tokens(ctx.database_url, 20))
        burst(ctx, bare, bare_url, issue_tokens(ctx.database_url, 20))
        for index in range(plan.handshake_runs):
            ctx.log(f"handshakes: run {index + 1} of {plan.handshake_runs}")
            # Tokens never used before: each handshake also records its token's first use.
            tokens = issue_tokens(ctx.database_url, plan.handshake_sockets)
            hub_runs.append(burst(ctx, hub, hub_url, tokens))
            bare_runs.append(burst(ctx, bare, bare_url, tokens))
            time.sleep(2.0)
    hub_rates = [r["handshakes_per_s"] or 0.0 for r in hub_runs]
    bare_rates = [r["handshakes_per_s"] or 0.0 for r in bare_runs]
    ctx.rows[ROW] = specs(plan)[ROW].measured(
        statistics.median(hub_rates),
        statistics.median(bare_rates),
        hub=hub_runs,
        bare=bare_runs,
        server=plan.production_server,
        sockets=plan.handshake_sockets,
        value_is="median of the alternating runs",
    )
