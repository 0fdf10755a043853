"""Scenario 3: one server process writing every event to N inbox sockets, fed through Redis.

The same publisher (bench/publishers.py) feeds the hub's channel layer, the bare `websockets`
broadcast server and python-socketio's Redis manager with the same real event frame: first at a low
fixed rate (latency from publish to receipt), then a burst sent flat out (delivered events/s: frames
received per socket over the time from the burst's first send to the last receipt). The target rows run
the hub under the plan's socket server; `fanout.<server>.*` rows repeat it under each other server
(baseline: the hub under the first).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

from bench.http_load import WEBHOOK_PATH, Bodies
from bench.plan import Context, Plan
from bench.publishers import publisher_main
from bench.results import RowSpec, latency_ms
from bench.servers import BENCH_SECRET, Server, hub_argv, module_argv, running, uvicorn_argv
from bench.workers import WorkerGroup, client_cpu, start_workers
from bench.ws_load import sockets_main, split_counts

SOCKETIO_PATH = "/socket.io/?EIO=4&transport=websocket"


def specs(plan: Plan) -> dict[str, RowSpec]:
    n = plan.fanout_sockets
    compared: dict[str, RowSpec] = {}
    for server in plan.compared_servers:
        compared[f"fanout.{server}.throughput"] = RowSpec(
            "events/s",
            "higher",
            title=f"events/s delivered to {n} sockets, hub under {server} vs under {plan.socket_server}",
        )
        compared[f"fanout.{server}.latency_low_rate"] = RowSpec(
            "ms",
            "lower",
            title=f"p99 publish to receipt at {plan.fanout_rate:g}/s, hub under {server} vs "
            f"under {plan.socket_server}",
        )
    return {
        "fanout.throughput": RowSpec(
            "events/s", "higher", 1.0, title=f"events/s delivered to {n} sockets, hub vs python-socketio"
        ),
        "fanout.throughput_vs_websockets": RowSpec(
            "events/s", "higher", 0.8, title=f"events/s delivered to {n} sockets, hub vs bare websockets"
        ),
        "fanout.latency_low_rate": RowSpec(
            "ms", "lower", title=f"p99 publish to receipt at {plan.fanout_rate:g}/s, hub vs python-socketio"
        ),
    } | compared


def seed_event(ctx: Context, server: Server) -> None:
    """Post one webhook so that the log holds a real event frame to publish."""
    import httpx

    body, signature = Bodies(f"{ctx.run_id}seed", 99, 1, BENCH_SECRET).next()
    headers = {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}
    httpx.post(server.url(WEBHOOK_PATH), content=body, headers=headers, timeout=10).raise_for_status()


def start_publisher(ctx: Context, target: str, phases: list[tuple[float | None, int, float]]) -> WorkerGroup:
    args = {
        "target": target,
        "redis_url": ctx.redis_url,
        "database_url": ctx.database_url,
        "env": ctx.env,
        "phases": phases,
    }
    group = start_workers(publisher_main, [args])
    if not group.wait_ready(30):
        group.__exit__()
        raise RuntimeError("publisher did not start")
    return group


def measure(ctx: Context, target: str, server: Server, url: str, headers: dict[str, str]) -> dict[str, Any]:
    plan = ctx.plan
    low_count = int(plan.fanout_rate * plan.fanout_rate_seconds)
    args = [
        {
            "url": url,
            "headers": headers,
            "count": c,
            "socketio": target == "socketio",
            "lean": True,
            "record": True,
            "record_limit": low_count,
            "expect": low_count + plan.fanout_burst,
            "connect_timeout": 60,
        }
        for c in split_counts(plan.fanout_sockets, 2)
    ]
    phases = [(plan.fanout_rate, low_count, plan.fanout_rate_seconds + 5), (None, plan.fanout_burst, 60.0)]
    with start_publisher(ctx, target, phases) as publisher, start_workers(sockets_main, args) as subscribers:
        if not subscribers.wait_ready(90):
            raise RuntimeError("sockets did not connect")
        subscribers.go()
        time.sleep(0.5)
        cpu0 = server.cpu_seconds()
        publisher.go()
        published = publisher.collect(plan.fanout_rate_seconds + 70)[0]
        reports = subscribers.collect(30)
        server_cpu = server.cpu_seconds() - cpu0
    errors = [r["error"] for r in [*reports, published] if "error" in r]
    if errors:
        raise RuntimeError(f"client failed: {errors[0]}")
    burst = published["phases"][1]
    connected = sum(r["connected"] for r in reports)
    low_lat = [ms for r in reports for stamp, ms in r["stamps"] if stamp < burst["started_at"]]
    burst_frames = sum(r["frames"] for r in reports) - len(low_lat)
    span = max(r["last"] for r in reports) - burst["started_at"]
    delivered = burst_frames / connected / span if connected and span > 0 else 0.0
    closed: dict[str, int] = {}
    for r in reports:
        for code, count in r["closed_by_server"].items():
            closed[code] = closed.get(code, 0) + count
    figures = {
        "delivered_events_per_s": round(delivered, 1),
        "frames_per_s": round(delivered * connected),
        "burst_events": burst["sent"],
        "burst_publish_s": round(burst["span_s"], 3),
        "burst_frames_received": burst_frames,
        "burst_frames_expected": burst["sent"] * connected,
        "sockets": connected,
        "low_rate": {"rate_per_s": plan.fanout_rate, **latency_ms(low_lat)},
        "closed_by_server": closed,
        "connect_failures": _merge([r["failures"] for r in reports]),
        "server_cpu_s": round(server_cpu, 2),
        "publisher_core_share": round(burst["load_core_share"], 2),
        "client_cpu": client_cpu(reports),
    }
    low_p99 = figures["low_rate"]["p99_ms"]
    ctx.log(f"  {server.name}: {delivered:.0f} events/s to {connected} sockets, low-rate p99 {low_p99} ms")
    return figures


def _merge(counts: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for key, n in count.items():
            merged[key] = merged.get(key, 0) + n
    return merged


def run_target(ctx: Context, target: str, server_name: str | None = None) -> dict[str, Any]:
    """Measure `target` ("hub", "websockets" or "socketio"); the hub under `server_name`."""
    ctx.log(f"fanout: {target}" + (f" under {server_name}" if server_name else ""))
    argv: Callable[[int], list[str]]
    if target == "hub":
        argv = hub_argv(server_name or ctx.plan.socket_server)
    elif target == "websockets":
        argv = module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url)
    else:
        argv = lambda port: uvicorn_argv("bench.baselines.socketio_server:app", port)  # noqa: E731
    name = f"fanout-{target}" + (f"-{server_name}" if server_name else "")
    with running(name, argv, ctx.env) as server:
        if target == "hub":
            seed_event(ctx, server)
            return measure(
                ctx,
                target,
                server,
                server.url("/ws/whatsapp/inbox/", "ws"),
                {"Authorization": f"Bearer {ctx.token}"},
            )
        path = "/" if target == "websockets" else SOCKETIO_PATH
        return measure(ctx, target, server, server.url(path, "ws"), {})


def run(ctx: Context) -> None:
    rows = specs(ctx.plan)
    hub = run_target(ctx, "hub")
    hub["server"] = ctx.plan.socket_server
    bare = run_target(ctx, "websockets")
    results = ctx.rows
    for server_name in ctx.plan.compared_servers:
        other = run_target(ctx, "hub", server_name)
        results[f"fanout.{server_name}.throughput"] = rows[f"fanout.{server_name}.throughput"].measured(
            other["delivered_events_per_s"],
            hub["delivered_events_per_s"],
            hub=other,
            websockets_events_per_s=bare["delivered_events_per_s"],
        )
        results[f"fanout.{server_name}.latency_low_rate"] = rows[
            f"fanout.{server_name}.latency_low_rate"
        ].measured(
            other["low_rate"]["p99_ms"],
            hub["low_rate"]["p99_ms"],
            hub=other["low_rate"],
            websockets=bare["low_rate"],
        )
    results["fanout.throughput_vs_websockets"] = rows["fanout.throughput_vs_websockets"].measured(
        hub["delivered_events_per_s"], bare["delivered_events_per_s"], hub=hub, websockets=bare
    )
    if importlib.util.find_spec("socketio") is None or importlib.util.find_spec("uvicorn") is None:
        reason = "python-socketio or uvicorn is not installed (pip install -e '.[bench]')"
        results["fanout.throughput"] = rows["fanout.throughput"].skipped(reason)
        results["fanout.latency_low_rate"] = rows["fanout.latency_low_rate"].skipped(reason)
        return
    sio = run_target(ctx, "socketio")
    results["fanout.throughput"] = rows["fanout.throughput"].measured(
        hub["delivered_events_per_s"], sio["delivered_events_per_s"], hub=hub, socketio=sio, websockets=bare
    )
    results["fanout.latency_low_rate"] = rows["fanout.latency_low_rate"].measured(
        hub["low_rate"]["p99_ms"],
        sio["low_rate"]["p99_ms"],
        hub=hub["low_rate"],
        socketio=sio["low_rate"],
        websockets=bare["low_rate"],
    )
