"""Scenario 1: signed webhook POSTs against the hub and the bare endpoint, then the hub under uvicorn.

Every server runs the same loads: one text message per POST and batches of 50, at each concurrency,
closed loop (each connection posts again as soon as it has its answer). The hub's best single-message
rate is the "ingest limit" that scenario 2 runs at half of.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

from bench.http_load import TAIL_SECONDS, closed_loop_main
from bench.plan import Context, Plan
from bench.results import RowSpec, latency_ms
from bench.servers import BENCH_SECRET, HOST, Server, daphne_argv, running, uvicorn_argv
from bench.workers import client_cpu, start_workers

HUB_APP = "asgi:application"
BARE_APP = "bench.baselines.bare_ingest:app"
Load = tuple[str, int]  # (body kind, concurrency)


def kinds(plan: Plan) -> dict[str, int]:
    return {"single": 1, f"batch{plan.batch_size}": plan.batch_size}


def specs(plan: Plan) -> dict[str, RowSpec]:
    rows: dict[str, RowSpec] = {}
    for kind in kinds(plan):
        for level in plan.ingest_levels:
            target = 0.5 if kind == "single" and level == 16 else None
            rows[f"ingest.{kind}.c{level}"] = RowSpec(
                "webhooks/s", "higher", target, title=f"hub (daphne) vs bare endpoint, {kind}, c={level}"
            )
    # The server comparison runs the single-message loads only (the full run must stay under 10 min).
    for level in plan.ingest_levels:
        rows[f"ingest.uvicorn.single.c{level}"] = RowSpec(
            "webhooks/s", "higher", title=f"hub under uvicorn vs under daphne, single, c={level}"
        )
    return rows


def measure(
    ctx: Context, server: Server, kind: str, batch: int, level: int, seconds: float, cap: int | None = None
) -> dict[str, Any]:
    """One closed-loop load; up to 2 client processes share the connections."""
    clients = 1 if level < 4 else 2
    args = [
        {
            "host": HOST,
            "port": server.port,
            "run_id": f"{ctx.run_id}{server.name}{kind}{level}",
            "client": client,
            "batch": batch,
            "customers": ctx.plan.customers_per_client,
            "secret": BENCH_SECRET,
            "concurrency": level // clients + (1 if client < level % clients else 0),
            "duration": seconds,
            "max_requests": (cap or ctx.plan.ingest_max_requests) // clients,
        }
        for client in range(clients)
    ]
    with start_workers(closed_loop_main, args) as group:
        if not group.wait_ready(30):
            raise RuntimeError("ingest clients did not start")
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        group.go()
        reports = group.collect(seconds + TAIL_SECONDS + 10)
        server_share = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise RuntimeError(f"ingest client failed: {errors[0]}")
    ok = sum(r["ok"] for r in reports)
    span = max(r["span_s"] for r in reports)
    latencies = [x for r in reports for x in r["latencies_ms"]]
    statuses: dict[str, int] = {}
    for r in reports:
        for status, n in r["statuses"].items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
    rate = ok / span if span > 0 else 0.0
    result = {
        "webhooks_per_s": round(rate, 1),
        "messages_per_s": round(rate * batch, 1),
        **latency_ms(latencies),
        "ok": ok,
        "failed": sum(r["failed"] for r in reports),
        "unfinished": sum(r["unfinished"] for r in reports),
        "statuses": statuses,
        "server_core_share": round(server_share, 2),
        "client_cpu": client_cpu(reports),
    }
    ctx.log(f"  {server.name} {kind} c={level}: {rate:.0f} webhooks/s, p99 {result['p99_ms']} ms")
    return result


def run_all(ctx: Context, server: Server, *, single_only: bool = False) -> dict[Load, dict[str, Any]]:
    # Warm-up: imports and pools, and every customer's conversation (each client's customers take
    # customers_per_client / batch posts), so that no measured load pays for creating them.
    posts = 2 * -(-ctx.plan.customers_per_client // ctx.plan.batch_size)
    measure(ctx, server, "warmup", ctx.plan.batch_size, 4, 40.0, cap=posts)
    figures = {}
    for kind, batch in kinds(ctx.plan).items():
        if single_only and kind != "single":
            continue
        for level in ctx.plan.ingest_levels:
            figures[(kind, level)] = measure(ctx, server, kind, batch, level, ctx.plan.ingest_seconds)
    return figures


def serve(
    name: str, argv: Callable[[int], list[str]], ctx: Context, *, single_only: bool = False
) -> dict[Load, dict[str, Any]]:
    ctx.log(f"ingest: {name}")
    with running(name, argv, ctx.env) as server:
        return run_all(ctx, server, single_only=single_only)


def run(ctx: Context) -> None:
    plan = ctx.plan
    rows = specs(plan)
    hub = serve("hub-daphne", lambda port: daphne_argv(HUB_APP, port), ctx)
    bare = serve("bare-daphne", lambda port: daphne_argv(BARE_APP, port), ctx)
    ctx.shared["ingest_limit"] = max(hub[("single", level)]["webhooks_per_s"] for level in plan.ingest_levels)
    results = ctx.rows
    for (kind, level), figures in hub.items():
        base = bare[(kind, level)]
        results[f"ingest.{kind}.c{level}"] = rows[f"ingest.{kind}.c{level}"].measured(
            figures["webhooks_per_s"], base["webhooks_per_s"], hub=figures, bare=base
        )
    if importlib.util.find_spec("uvicorn") is None:
        for name in rows:
            if name.startswith("ingest.uvicorn."):
                results[name] = rows[name].skipped("uvicorn is not installed (pip install -e '.[bench]')")
        return
    uvicorn = serve("hub-uvicorn", lambda port: uvicorn_argv(HUB_APP, port), ctx, single_only=True)
    for (kind, level), figures in uvicorn.items():
        results[f"ingest.uvicorn.{kind}.c{level}"] = rows[f"ingest.uvicorn.{kind}.c{level}"].measured(
            figures["webhooks_per_s"], hub[(kind, level)]["webhooks_per_s"], uvicorn=figures
        )
