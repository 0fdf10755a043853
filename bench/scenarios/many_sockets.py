"""Many idle authenticated inbox sockets on one process: memory per socket, and one event to all of them.

The hub runs under the production server (`Plan.production_server`, as the Dockerfile runs it), the
baseline is the bare `websockets` server holding as many. The clients are spread over processes of
`SOCKETS_PER_CLIENT` sockets each (a process may hold at most 20,000 open files here), each socket with
a token of its own. Once all are open, `many_events` events are published one at a time, 2 s apart
(bench/publishers.py), and every socket reports each one's publish-to-receipt time; the p99 is over
all of those receipts. Memory per socket is RSS growth from the warmed-up empty process, over the
sockets held.
"""

from __future__ import annotations

import time
from typing import Any

from bench.plan import Context, Plan
from bench.results import RowSpec, latency_ms
from bench.scenarios.fanout import seed_event, start_publisher
from bench.servers import Server, hub_argv, issue_tokens, module_argv, running
from bench.workers import client_cpu, start_workers
from bench.ws_load import sockets_main, split_counts

SOCKETS_PER_CLIENT = 2500
EVENT_INTERVAL_S = 2.0
SETTLE_SECONDS = 3.0


def names(plan: Plan) -> tuple[str, str]:
    n = plan.many_sockets
    return f"connections.{n}_sockets", f"connections.{n}_sockets.p99"


def specs(plan: Plan) -> dict[str, RowSpec]:
    memory, p99 = names(plan)
    where = f"{plan.many_sockets} idle sockets on one process ({plan.production_server})"
    return {
        memory: RowSpec(
            "KiB/socket", "lower", 2.0, title=f"RSS growth per socket, {where}, vs bare websockets"
        ),
        p99: RowSpec("ms", "lower", 2.0, title=f"p99 publish to receipt of one event, {where}, vs bare"),
    }


def warm_up(ctx: Context, url: str) -> None:
    """A few sockets open and closed: the consumer code, the auth path and the fan-out's subscription.

    Nothing is published: the hub's fan-out numbers on from what it has seen, so a process gets one
    published series only (bench/publishers.py).
    """
    args = [
        {
            "url": url, "headers": {}, "tokens": issue_tokens(ctx.database_url, 20), "count": 20,
            "socketio": False, "lean": True, "record": False, "connect_timeout": 60,
        }
    ]  # fmt: skip
    with start_workers(sockets_main, args) as group:
        group.wait_ready(60)
        group.reports()
    time.sleep(SETTLE_SECONDS)


def hold_and_publish(
    ctx: Context, server: Server, target: str, url: str, tokens: list[str]
) -> dict[str, Any]:
    plan = ctx.plan
    count = len(tokens)
    clients = max(1, -(-count // SOCKETS_PER_CLIENT))
    args = [
        {
            "url": url,
            "headers": {},
            "tokens": tokens[i::clients],
            "count": c,
            "socketio": False,
            "lean": True,
            "record": True,
            "expect": plan.many_events,
            "connect_concurrency": 32,
            "connect_timeout": plan.many_connect_seconds,
        }
        for i, c in enumerate(split_counts(count, clients))
    ]
    phases: list[tuple[float | None, int, float]] = [
        (1 / EVENT_INTERVAL_S, plan.many_events, plan.many_events * EVENT_INTERVAL_S + 10)
    ]
    before = server.rss_kib()
    with start_publisher(ctx, target, phases) as publisher, start_workers(sockets_main, args) as group:
        started = time.monotonic()
        if not group.wait_ready(plan.many_connect_seconds + 30):
            raise RuntimeError("sockets did not connect in time")
        connect_s = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
        rss = server.rss_kib()
        group.go()
        time.sleep(0.5)
        cpu0 = server.cpu_seconds()
        publisher.go()
        published = publisher.collect(plan.many_events * EVENT_INTERVAL_S + 40)[0]
        reports = group.collect(30)
        server_cpu = server.cpu_seconds() - cpu0
    errors = [r["error"] for r in [*reports, published] if "error" in r]
    if errors:
        raise RuntimeError(f"client failed: {errors[0]}")
    connected = sum(r["connected"] for r in reports)
    closed = sum(sum(r["closed_by_server"].values()) for r in reports)
    # Connections that ended without a close frame: not held, though no close code says so.
    lost = sum(r.get("lost_connections", 0) for r in reports)
    alive = connected - closed - lost
    stamps = [ms for r in reports for _, ms in r["stamps"]]
    figures = {
        "kib_per_socket": round((rss - before) / alive, 2) if alive > 0 else None,
        "requested": count,
        "held": alive,
        "closed_by_server": closed,
        "lost_connections": lost,
        "rss_before_kib": before,
        "rss_kib": rss,
        "connect_s": round(connect_s, 1),
        "events": published["phases"][0]["sent"],
        "receipts": len(stamps),
        # Every socket that connected was to get every event: a lost or closed one misses them.
        "expected_receipts": published["phases"][0]["sent"] * connected,
        "fewest_frames_one_socket": min((r["min_frames"] for r in reports), default=0),
        **latency_ms(stamps),
        "server_cpu_s": round(server_cpu, 2),
        "client_cpu": client_cpu(reports),
        "client_processes": clients,
    }
    ctx.log(
        f"  {server.name}: {alive} sockets, {figures['kib_per_socket']} KiB each, "
        f"p99 {figures['p99_ms']} ms over {len(stamps)} receipts"
    )
    return figures


def run(ctx: Context) -> None:
    plan = ctx.plan
    memory, p99 = names(plan)
    rows = specs(plan)
    tokens = issue_tokens(ctx.database_url, plan.many_sockets)
    ctx.log(f"many sockets: hub under {plan.production_server}")
    with running("many-hub", hub_argv(plan.production_server), ctx.env) as server:
        seed_event(ctx, server)
        url = server.url("/ws/whatsapp/inbox/", "ws")
        warm_up(ctx, url)
        hub = hold_and_publish(ctx, server, "hub", url, tokens)
    ctx.log("many sockets: bare websockets")
    bare_argv = module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url)
    with running("many-websockets", bare_argv, ctx.env) as server:
        url = server.url("/", "ws")
        warm_up(ctx, url)
        bare = hold_and_publish(ctx, server, "websockets", url, tokens)
    common = {"hub": hub, "bare": bare, "server": plan.production_server}
    ctx.rows[memory] = rows[memory].measured(hub["kib_per_socket"], bare["kib_per_socket"], **common)
    ctx.rows[p99] = rows[p99].measured(hub["p99_ms"], bare["p99_ms"], **common)
    if hub["receipts"] < hub["expected_receipts"]:
        # A p99 over the frames that arrived says nothing of the ones that did not.
        ctx.rows[p99]["met"] = False
