"""Scenario 1: signed webhook POSTs against the hub and the bare endpoint, then the hub under uvicorn.

The hub runs every load: one text message per POST and batches of 50, at each concurrency, closed
loop (each connection posts again as soon as it has its answer). The single messages' baseline is the
bare endpoint storing the body as one row; the batches' is the same endpoint storing one raw row plus
a row per message (`BENCH_STORE_MESSAGES=1`). The judged single-message row (c=16) is the median of
`ingest_repeats` runs alternating hub and bare. The hub's best single-message rate is the "ingest
limit" that scenario 2 runs at half of.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
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
            # Single messages at c16; batches at c16 against a baseline that stores every message.
            target = 0.5 if level == 16 else None
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


def run_all(ctx: Context, server: Server, only: str | None = None) -> dict[Load, dict[str, Any]]:
    """Every load (or those of body kind `only`) after a warm-up."""
    # Warm-up: imports and pools, and every customer's conversation (each client's customers take
    # customers_per_client / batch posts), so that no measured load pays for creating them.
    posts = 2 * -(-ctx.plan.customers_per_client // ctx.plan.batch_size)
    measure(ctx, server, "warmup", ctx.plan.batch_size, 4, 40.0, cap=posts)
    figures = {}
    for kind, batch in kinds(ctx.plan).items():
        if only is not None and kind != only:
            continue
        for level in ctx.plan.ingest_levels:
            figures[(kind, level)] = measure(ctx, server, kind, batch, level, ctx.plan.ingest_seconds)
    return figures


def repeat_level(plan: Plan) -> int:
    """The concurrency whose single-message row is judged: 16, or the smoke run's nearest level."""
    return min(plan.ingest_levels, key=lambda level: abs(level - 16))


def run(ctx: Context) -> None:
    plan = ctx.plan
    rows = specs(plan)
    batch_kind = f"batch{plan.batch_size}"
    bare_app = lambda port: daphne_argv(BARE_APP, port)  # noqa: E731
    with (
        running("hub-daphne", lambda port: daphne_argv(HUB_APP, port), ctx.env) as hub_server,
        running("bare-daphne", bare_app, ctx.env) as bare_server,
        running("bare-messages-daphne", bare_app, ctx.env | {"BENCH_STORE_MESSAGES": "1"}) as messages_server,
    ):
        ctx.log("ingest: hub-daphne")
        hub = run_all(ctx, hub_server)
        ctx.log("ingest: bare-daphne (one row per POST)")
        bare = run_all(ctx, bare_server, only="single")
        ctx.log("ingest: bare-messages-daphne (one raw row plus a row per message)")
        bare |= run_all(ctx, messages_server, only=batch_kind)
        # The judged row alternates hub and bare so that one noisy run of either cannot decide it.
        level = repeat_level(plan)
        pairs = [(hub[("single", level)], bare[("single", level)])]
        for _ in range(plan.ingest_repeats - 1):
            ctx.log(f"ingest: single c={level} again, hub then bare")
            hub_run = measure(ctx, hub_server, "single", 1, level, plan.ingest_seconds)
            pairs.append((hub_run, measure(ctx, bare_server, "single", 1, level, plan.ingest_seconds)))
    ctx.shared["ingest_limit"] = max(hub[("single", lvl)]["webhooks_per_s"] for lvl in plan.ingest_levels)
    results = ctx.rows
    for (kind, lvl), figures in hub.items():
        name = f"ingest.{kind}.c{lvl}"
        base = bare[(kind, lvl)]
        if kind == "single" and lvl == level and len(pairs) > 1:
            hub_rates = [h["webhooks_per_s"] for h, _ in pairs]
            bare_rates = [b["webhooks_per_s"] for _, b in pairs]
            results[name] = rows[name].measured(
                statistics.median(hub_rates),
                statistics.median(bare_rates),
                hub=figures,
                bare=base,
                runs={
                    "hub": hub_rates,
                    "bare": bare_rates,
                    "ratios": [round(h / b, 3) for h, b in zip(hub_rates, bare_rates, strict=True) if b],
                },
                value_is="median of the alternating runs",
            )
            continue
        baseline = "one raw row plus a row per message" if kind != "single" else "one raw row"
        results[name] = rows[name].measured(
            figures["webhooks_per_s"], base["webhooks_per_s"], hub=figures, bare=base, bare_stores=baseline
        )
    if importlib.util.find_spec("uvicorn") is None:
        for name in rows:
            if name.startswith("ingest.uvicorn."):
                results[name] = rows[name].skipped("uvicorn is not installed (pip install -e '.[bench]')")
        return
    ctx.log("ingest: hub-uvicorn")
    with running("hub-uvicorn", lambda port: uvicorn_argv(HUB_APP, port), ctx.env) as server:
        uvicorn = run_all(ctx, server, only="single")
    for (kind, lvl), figures in uvicorn.items():
        results[f"ingest.uvicorn.{kind}.c{lvl}"] = rows[f"ingest.uvicorn.{kind}.c{lvl}"].measured(
            figures["webhooks_per_s"], hub[(kind, lvl)]["webhooks_per_s"], uvicorn=figures
        )
