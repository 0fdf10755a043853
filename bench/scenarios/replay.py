"""Scenario 5: a client reconnecting with `?after=<seq>` receives the events it missed.

The time runs from the start of the connection to the receipt of the last missed event. The baseline
is the bare websockets server reading the same rows with psycopg and sending each stored payload.
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
from bench.servers import BENCH_SECRET, HOST, Server, daphne_argv, module_argv, running
from bench.workers import CpuWindow, start_workers
from bench.ws_load import _open


def specs(plan: Plan) -> dict[str, RowSpec]:
    return {
        f"replay.{plan.replay_events}_events": RowSpec(
            "s", "lower", 1.0, "value", title=f"time to replay {plan.replay_events} missed events"
        )
    }


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


def run(ctx: Context) -> None:
    count = ctx.plan.replay_events
    name = f"replay.{count}_events"
    ctx.log("replay: hub")
    with running("replay-hub", lambda p: daphne_argv("asgi:application", p), ctx.env) as server:
        fill_log(ctx, server, count + 1)
        after = last_seq(ctx) - count
        url = server.url(f"/ws/whatsapp/inbox/?after={after}", "ws")
        hub = measure(ctx, url, {"Authorization": f"Bearer {ctx.token}"})
    ctx.log("replay: bare websockets")
    with running(
        "replay-websockets", module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url), ctx.env
    ) as server:
        bare = measure(ctx, server.url(f"/replay?after={after}&limit={count}", "ws"), {})
    row = specs(ctx.plan)[name]
    ctx.rows[name] = row.measured(hub["seconds"], bare["seconds"], hub=hub, bare=bare, after=after)
