"""Scenario 4: idle authenticated sockets held on one hub process, and on the bare websockets server.

The target row runs the hub under the plan's socket server; a `connections.<server>.*` row repeats it
under each other server (its baseline is the hub under the first, its details compare it to the bare
server too).

Memory per socket is the growth of the server's resident set (VmRSS in /proc/<pid>/status) from a
warmed-up process with no sockets to the same process holding them all, divided by the sockets held.
"""

from __future__ import annotations

import time
from typing import Any

from bench.plan import Context, Plan
from bench.results import RowSpec
from bench.servers import Server, hub_argv, module_argv, running
from bench.workers import start_workers
from bench.ws_load import sockets_main, split_counts

SOCKETS_PER_CLIENT = 2500
SETTLE_SECONDS = 2.0


def specs(plan: Plan) -> dict[str, RowSpec]:
    rows = {
        "connections.memory_per_socket": RowSpec(
            "KiB/socket",
            "lower",
            2.5,
            title=f"RSS growth per idle socket, {plan.idle_sockets} sockets, hub ({plan.socket_server}) vs "
            "bare websockets",
        )
    }
    for server in plan.compared_servers:
        rows[f"connections.{server}.memory_per_socket"] = RowSpec(
            "KiB/socket",
            "lower",
            title=f"RSS growth per idle socket, hub under {server} vs under {plan.socket_server}",
        )
    return rows


def hold(ctx: Context, server: Server, url: str, headers: dict[str, str], count: int) -> dict[str, Any]:
    """Connect `count` sockets, measure the server's RSS while they are held, then let them go."""
    clients = max(1, -(-count // SOCKETS_PER_CLIENT))
    args = [
        {
            "url": url,
            "headers": headers,
            "count": c,
            "socketio": False,
            "record": False,
            "connect_timeout": 60,
        }
        for c in split_counts(count, clients)
    ]
    with start_workers(sockets_main, args) as group:
        started = time.monotonic()
        group.wait_ready(75)
        connect_s = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
        rss = server.rss_kib()
        reports = group.reports()
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise RuntimeError(f"socket client failed: {errors[0]}")
    failures: dict[str, int] = {}
    for r in reports:
        for key, n in r["failures"].items():
            failures[key] = failures.get(key, 0) + n
    return {
        "rss_kib": rss,
        "connected": sum(r["connected"] for r in reports),
        "closed_by_server": sum(sum(r["closed_by_server"].values()) for r in reports),
        "failures": failures,
        "connect_s": round(connect_s, 2),
        # Whole-run CPU (connecting is the work here; holding idle sockets costs the client nothing).
        "client_cpu_s": round(sum(r["client_cpu_s"] for r in reports), 2),
    }


def measure(ctx: Context, server: Server, url: str, headers: dict[str, str]) -> dict[str, Any]:
    # Warm up: the first sockets load the consumer code, the fan-out and the auth path.
    hold(ctx, server, url, headers, min(20, ctx.plan.idle_sockets))
    time.sleep(SETTLE_SECONDS)
    before = server.rss_kib()
    held = hold(ctx, server, url, headers, ctx.plan.idle_sockets)
    # Sockets the server closed (or never accepted) hold nothing.
    alive = held["connected"] - held["closed_by_server"]
    per_socket = (held["rss_kib"] - before) / alive if alive > 0 else None
    figures = {
        "kib_per_socket": round(per_socket, 2) if per_socket is not None else None,
        "requested": ctx.plan.idle_sockets,
        "held": alive,
        "rss_before_kib": before,
        **held,
    }
    ctx.log(f"  {server.name}: {alive} sockets, {figures['kib_per_socket']} KiB each")
    return figures


def measure_hub(ctx: Context, server_name: str) -> dict[str, Any]:
    ctx.log(f"connections: hub under {server_name}")
    with running(f"conn-hub-{server_name}", hub_argv(server_name), ctx.env) as server:
        return measure(
            ctx, server, server.url("/ws/whatsapp/inbox/", "ws"), {"Authorization": f"Bearer {ctx.token}"}
        )


def run(ctx: Context) -> None:
    plan = ctx.plan
    rows = specs(plan)
    hub = measure_hub(ctx, plan.socket_server)
    ctx.log("connections: bare websockets")
    bare_argv = module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url)
    with running("conn-websockets", bare_argv, ctx.env) as server:
        bare = measure(ctx, server, server.url("/", "ws"), {})
    ctx.rows["connections.memory_per_socket"] = rows["connections.memory_per_socket"].measured(
        hub["kib_per_socket"], bare["kib_per_socket"], hub=hub, bare=bare, server=plan.socket_server
    )
    for server_name in plan.compared_servers:
        other = measure_hub(ctx, server_name)
        name = f"connections.{server_name}.memory_per_socket"
        vs_bare = other["kib_per_socket"] / bare["kib_per_socket"] if bare["kib_per_socket"] else None
        ctx.rows[name] = rows[name].measured(
            other["kib_per_socket"],
            hub["kib_per_socket"],
            hub=other,
            ratio_vs_bare=round(vs_bare, 3) if vs_bare is not None else None,
        )
