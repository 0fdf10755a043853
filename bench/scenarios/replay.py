"""Scenario 5: a client reconnecting with `?after=<seq>` receives the events it missed.

The time runs from the start of the connection to the receipt of the last missed event. The baseline
is the bare websockets server reading the same rows with psycopg and sending each stored payload. The
target row runs the hub under the plan's socket server; `replay.<server>.*` repeats it under each other.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import psycopg

from bench.http_load import closed_loop_main
from bench.plan import Context, Plan
from bench.publishers import LAST_SEQ_SQL
from bench.results import RowSpec
from bench.servers import BENCH_SECRET, HOST, Server, hub_argv, module_argv, running
from bench.workers import CpuWindow, start_workers
from bench.ws_load import _open


def specs(plan: Plan) -> dict[str, RowSpec]:
    n = plan.replay_events
    rows = {
        f"replay.{n}_events": RowSpec(
            "s", "lower", 1.0, "value", title=f"time to replay {n} missed events ({plan.socket_server})"
        )
    }
    for server in plan.compared_servers:
        title = f"time to replay {n} missed events, hub under {server} vs {plan.socket_server}"
        rows[f"replay.{server}.{n}_events"] = RowSpec("s", "lower", title=title)
    return rows


def last_seq(ctx: Context) -> int:
    with psycopg.connect(ctx.database_url) as conn:
        row = conn.execute(LAST_SEQ_SQL).fetchone()
    return int(row[0]) if row else 0


def fill_log(ctx: Context, server: Server, needed: int) -> None:
    """Post batches of messages until the log holds `needed` events (scenario 1 usually left them)."""
    batch = ctx.plan.batch_size
    while (missing := needed - last_seq(ctx)) > 0:
        args = {
            "host": HOST, "port": server.port, "run_id": f"{ctx.run_id}replay{missing}", "client": 7,
            "batch": batch, "customers": ctx.plan.customers_per_client, "secret": BENCH_SECRET,
            "concurrency": 4, "duration": 30.0,
            "max_requests": -(-missing // batch),
        }  # fmt: skip
        with start_workers(closed_loop_main, [args]) as group:
            group.wait_ready(30)
            group.go()
            report = group.collect(60)[0]
        if "error" in report or not report["ok"]:
            raise RuntimeError(f"could not fill the event log: {report}")


async def receive(url: str, headers: dict[str, str], count: int) -> dict[str, float]:
    window = CpuWindow()
    started = time.perf_counter()
    ws = await _open(url, headers, socketio=False)
    received = 0
    async with ws:
        while received < count:
            await asyncio.wait_for(ws.recv(), 30)
            received += 1
    return {"seconds": time.perf_counter() - started, "client_core_share": round(window.share(), 2)}


def measure(ctx: Context, url: str, headers: dict[str, str]) -> dict[str, Any]:
    runs = [asyncio.run(receive(url, headers, ctx.plan.replay_events)) for _ in range(ctx.plan.replay_runs)]
    seconds = statistics.median(r["seconds"] for r in runs)
    ctx.log(f"  {url.split('?')[0]}: {seconds:.3f} s")
    return {"seconds": round(seconds, 3), "runs": runs}


def measure_hub(ctx: Context, server_name: str, after: int | None = None) -> tuple[dict[str, Any], int]:
    """Replay under `server_name` from `after` (by default: as many events back as the plan asks)."""
    ctx.log(f"replay: hub under {server_name}")
    with running(f"replay-hub-{server_name}", hub_argv(server_name), ctx.env) as server:
        if after is None:
            fill_log(ctx, server, ctx.plan.replay_events + 1)
            after = last_seq(ctx) - ctx.plan.replay_events
        url = server.url(f"/ws/whatsapp/inbox/?after={after}", "ws")
        headers = {"Authorization": f"Bearer {ctx.token}"}
        # Warm-up: the first socket of a process loads the consumer code and the auth path.
        asyncio.run(receive(url, headers, 1))
        return measure(ctx, url, headers), after


def run(ctx: Context) -> None:
    plan = ctx.plan
    count = plan.replay_events
    name = f"replay.{count}_events"
    rows = specs(plan)
    hub, after = measure_hub(ctx, plan.socket_server)
    ctx.log("replay: bare websockets")
    with running(
        "replay-websockets", module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url), ctx.env
    ) as server:
        bare = measure(ctx, server.url(f"/replay?after={after}&limit={count}", "ws"), {})
    ctx.rows[name] = rows[name].measured(
        hub["seconds"], bare["seconds"], hub=hub, bare=bare, after=after, server=plan.socket_server
    )
    for server_name in plan.compared_servers:
        other, _ = measure_hub(ctx, server_name, after)
        other_name = f"replay.{server_name}.{count}_events"
        vs_bare = round(other["seconds"] / bare["seconds"], 3)
        ctx.rows[other_name] = rows[other_name].measured(
            other["seconds"], hub["seconds"], hub=other, ratio_vs_bare=vs_bare
        )
