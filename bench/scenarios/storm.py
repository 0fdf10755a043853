"""Reconnect storm: one of two hub processes restarts and its sockets reconnect to the other with `after`.

`storm_sockets` inbox sockets, half on process A and half on B (the production server), each with a
token of its own and recording every seq it reads (bench/storm_client.py). One event reaches all of
them; A gets SIGTERM and drains (its sockets closed with 4012); once A is gone, webhooks posted to B
log `storm_missed` more events. Then every dropped socket reconnects to B at once with `after=` its
last seq. The time runs from that moment to the last dropped socket holding the newest event; every
socket's seqs must equal the log's (no gap, no duplicate). The baseline: as many sockets opening the
bare websockets server's `/replay` at once, each reading the same rows.
"""

from __future__ import annotations

import signal
import statistics
import time
from typing import Any

import httpx
import psycopg

from bench.http_load import WEBHOOK_PATH, Bodies
from bench.plan import Context, Plan
from bench.publishers import LAST_SEQ_SQL
from bench.results import RowSpec
from bench.servers import BENCH_SECRET, Server, hub_argv, issue_tokens, module_argv, running
from bench.storm_client import replay_main, storm_main
from bench.workers import CONTEXT, client_cpu, start_workers

ROW = "reconnect.storm"
SOCKETS_PER_CLIENT = 2500
# Event types an inbox socket of a token that is not staff never receives (store/events.py).
EXPECTED_SQL = (
    "SELECT seq FROM whatsapp_hubevent WHERE seq > %s AND seq <= %s AND type <> 'note.created' ORDER BY seq"
)


def specs(plan: Plan) -> dict[str, RowSpec]:
    title = (
        f"{plan.storm_sockets} sockets over two processes ({plan.production_server}); one restarts and "
        f"its sockets reconnect with after, {plan.storm_missed} missed events each, vs bare replay"
    )
    return {ROW: RowSpec("s", "lower", 2.0, title=title)}


def last_seq(ctx: Context) -> int:
    with psycopg.connect(ctx.database_url) as conn:
        row = conn.execute(LAST_SEQ_SQL).fetchone()
    return int(row[0]) if row else 0


def post_events(ctx: Context, server: Server, count: int, tag: str) -> int:
    """Post one-message webhooks to `server` until the log has `count` more events; the newest seq."""
    target = last_seq(ctx) + count
    bodies = Bodies(f"{ctx.run_id}storm{tag}", 97, 1, BENCH_SECRET, customers=count)
    with httpx.Client(timeout=10) as client:
        while (newest := last_seq(ctx)) < target:
            body, signature = bodies.next()
            headers = {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}
            client.post(server.url(WEBHOOK_PATH), content=body, headers=headers).raise_for_status()
    return newest


def client_args(tokens: list[str], **common: Any) -> list[dict[str, Any]]:
    parts = max(1, -(-len(tokens) // SOCKETS_PER_CLIENT))
    return [{"tokens": tokens[i::parts], **common} for i in range(parts)]


def check(ctx: Context, reports: list[dict[str, Any]], since: int, final: int) -> dict[str, Any]:
    with psycopg.connect(ctx.database_url) as conn:
        expected = [row[0] for row in conn.execute(EXPECTED_SQL, (since, final)).fetchall()]
    lost = duplicated = wrong = 0
    for report in reports:
        for seqs in report["seqs"]:
            lost += len(set(expected) - set(seqs))
            duplicated += len(seqs) - len(set(seqs))
            wrong += 0 if seqs == sorted(set(seqs)) else 1
    return {"expected_events": len(expected), "lost": lost, "duplicated": duplicated, "out_of_order": wrong}


def hub_storm(ctx: Context, tokens: list[str]) -> dict[str, Any]:
    plan = ctx.plan
    half = len(tokens) // 2
    argv = hub_argv(plan.production_server)
    with (
        running("storm-a", argv, ctx.env | {"HUB_DRAIN_SECONDS": "1"}) as a,
        running("storm-b", argv, ctx.env) as b,
    ):
        since = post_events(ctx, b, 1, "seed")
        final = CONTEXT.Value("q", 0)
        common = {"since": since, "final": final, "wait_s": plan.storm_connect_seconds + 120}
        inbox_a, inbox_b = a.url("/ws/whatsapp/inbox/", "ws"), b.url("/ws/whatsapp/inbox/", "ws")
        args = client_args(tokens[:half], url=inbox_a, reconnect_url=inbox_b, **common) + client_args(
            tokens[half:], url=inbox_b, reconnect_url=inbox_b, **common
        )
        for arg in args:
            arg["connect_timeout"] = plan.storm_connect_seconds
        with start_workers(storm_main, args) as group:
            started = time.monotonic()
            if not group.wait_ready(plan.storm_connect_seconds + 30):
                raise RuntimeError("storm sockets did not connect")
            connect_s = time.monotonic() - started
            ctx.log(f"  {len(tokens)} sockets connected in {connect_s:.1f} s")
            # One event every socket reads: each then knows a seq to reconnect after.
            seen = post_events(ctx, b, 1, "seen")
            time.sleep(2.0)
            a.process.send_signal(signal.SIGTERM)
            drain_started = time.monotonic()
            # The events are logged once A is gone, so that none reaches a socket through A.
            a.process.wait(plan.storm_connect_seconds)
            drain_s = time.monotonic() - drain_started
            ctx.log(
                f"  A drained and exited {time.monotonic() - started - connect_s:.1f} s after the first event"
            )
            newest = post_events(ctx, b, plan.storm_missed, "missed")
            final.value = newest
            time.sleep(0.5)
            go_at = time.time()
            cpu0 = b.cpu_seconds()
            group.go()
            reports = group.collect(plan.storm_catch_up_seconds)
            server_cpu = b.cpu_seconds() - cpu0
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise RuntimeError(f"storm client failed: {errors[0]}")
    caught = [t - go_at for r in reports for t in r["caught_up_at"]]
    dropped = sum(r["dropped"] for r in reports)
    figures = {
        "seconds": round(max(caught), 3) if caught and len(caught) == dropped else None,
        "median_s": round(statistics.median(caught), 3) if caught else None,
        "sockets": len(tokens),
        "connected": sum(r["connected"] for r in reports),
        "connect_s": round(connect_s, 1),
        "drain_and_exit_s": round(drain_s, 1),
        "dropped": dropped,
        "caught_up": len(caught),
        "missed_events": newest - seen,
        "close_codes": sorted({c for r in reports for c in r["close_codes"]}),
        "errors": [e for r in reports for e in r["errors"]][:5],
        "error_count": sum(r["error_count"] for r in reports),
        "survivor_cpu_s": round(server_cpu, 2),
        "client_cpu": client_cpu(reports),
        **check(ctx, reports, since, newest),
    }
    ctx.log(
        f"  hub: {dropped} dropped sockets caught up in {figures['seconds']} s; lost {figures['lost']}, "
        f"duplicated {figures['duplicated']}"
    )
    figures["after"], figures["newest"] = seen, newest
    return figures


def bare_storm(ctx: Context, tokens: list[str], after: int, count: int) -> dict[str, Any]:
    bare_argv = module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url)
    with running("storm-websockets", bare_argv, ctx.env) as server:
        url = server.url(f"/replay?after={after}&limit={count}", "ws")
        with start_workers(replay_main, client_args(tokens, url=url, count=count)) as group:
            group.wait_ready(30)
            time.sleep(0.5)
            go_at = time.time()
            group.go()
            reports = group.collect(ctx.plan.storm_catch_up_seconds)
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise RuntimeError(f"bare storm client failed: {errors[0]}")
    done = [t - go_at for r in reports for t in r["done_at"]]
    figures = {
        "seconds": round(max(done), 3) if len(done) == len(tokens) else None,
        "median_s": round(statistics.median(done), 3) if done else None,
        "sockets": len(tokens),
        "caught_up": len(done),
        "error_count": sum(r["error_count"] for r in reports),
        "errors": [e for r in reports for e in r["errors"]][:5],
    }
    ctx.log(f"  bare: {len(done)} sockets read {count} rows each in {figures['seconds']} s")
    return figures


def run(ctx: Context) -> None:
    plan = ctx.plan
    tokens = issue_tokens(ctx.database_url, plan.storm_sockets)
    ctx.log(f"storm: {plan.storm_sockets} sockets on two hub processes ({plan.production_server})")
    hub = hub_storm(ctx, tokens)
    ctx.log("storm: bare websockets replay")
    half = len(tokens) // 2
    bare = bare_storm(ctx, tokens[:half], hub["after"], hub["newest"] - hub["after"])
    row = specs(plan)[ROW].measured(hub["seconds"], bare["seconds"], hub=hub, bare=bare)
    if hub["lost"] or hub["duplicated"] or hub["out_of_order"] or hub["seconds"] is None:
        # Speed is no merit if a socket lost, doubled or reordered an event, or never caught up.
        row["met"] = False if row["target"] is not None else None
    ctx.rows[ROW] = row
