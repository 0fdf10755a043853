"""Pruning a big event log while webhooks keep arriving; replay afterwards.

The log lives in a database of its own (`<bench database>_eventlog`), kept between runs and topped up
to `prune_events` events with `INSERT ... SELECT generate_series` (status-sized payloads, 90 days old).
The hub (production server) takes signed POSTs at a fixed rate for `prune_seconds`, three windows:
without the prune, with `manage.py prune_events --days 30` running in its batches, and without again;
the row is the p99 during the prune against the faster of the two windows around it. The prune is
stopped after its window (each batch is its own statement, so stopping loses nothing), and the next run
tops the log up again. Then a client replays the newest `replay_events` events with `after`.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import psycopg

from bench.http_load import fixed_rate_main
from bench.plan import Context, Plan
from bench.results import RowSpec, latency_ms
from bench.scenarios.replay import receive
from bench.servers import (
    BENCH_SECRET,
    HOST,
    PYTHON,
    REPO_ROOT,
    Server,
    database_url,
    hub_argv,
    issue_token,
    prepare_database,
    running,
)
from bench.workers import start_workers

ROW, REPLAY_ROW = "eventlog.prune", "eventlog.prune.replay"
FILL_BATCH = 1_000_000
# A status event's size: most of a busy log is sent, delivered and read receipts.
PAYLOAD = (
    '{"status": {"id": 1, "message_id": "wamid.HBgLMTU1NTAwMDAwMDAVAgARGBI5QUJDREVGMDEyMzQ1Njc4OQA=", '
    '"status": "delivered", "timestamp": "2026-09-01T10:00:00+00:00", "recipient_id": "15550000000", '
    '"error_code": null, "error_title": "", "conversation_id": null}}'
)
FILL_SQL = """
INSERT INTO whatsapp_hubevent (seq, type, payload, created_at)
SELECT g, 'message.status', %(payload)s::jsonb, now() - interval '90 days'
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g
"""
SEQUENCE_SQL = """
INSERT INTO whatsapp_hubsequence (name, value) VALUES ('hub_event', %(value)s)
ON CONFLICT (name) DO UPDATE SET value = GREATEST(whatsapp_hubsequence.value, EXCLUDED.value)
"""


def specs(plan: Plan) -> dict[str, RowSpec]:
    n = f"{plan.prune_events:,}"
    return {
        ROW: RowSpec(
            "ms", "lower", 1.5, title=f"ingest p99 while prune_events runs on {n} events, vs without"
        ),
        REPLAY_ROW: RowSpec(
            "s", "lower", 1.0, "value", title=f"replay of {plan.replay_events} events after the prune ({n})"
        ),
    }


def fill(ctx: Context, url: str, count: int) -> dict[str, Any]:
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        have = int(conn.execute("SELECT count(*) FROM whatsapp_hubevent").fetchone()[0])  # type: ignore[index]
        if have >= count:
            return {"filled": 0, "events": have, "fill_s": 0.0}
        ctx.log(f"eventlog: filling {count - have:,} events (kept for later runs)")
        top = int(conn.execute("SELECT COALESCE(max(seq), 0) FROM whatsapp_hubevent").fetchone()[0])  # type: ignore[index]
        # Logged below seqs the hub hands out: the sequence row moves past them.
        for start in range(top + 1, top + count - have + 1, FILL_BATCH):
            stop = min(top + count - have, start + FILL_BATCH - 1)
            conn.execute(FILL_SQL, {"payload": PAYLOAD, "start": start, "stop": stop})
            conn.execute(SEQUENCE_SQL, {"value": stop})
            conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE whatsapp_hubevent")
    return {"filled": count - have, "events": count, "fill_s": round(time.monotonic() - started, 1)}


def ingest_window(ctx: Context, server: Server, tag: str) -> dict[str, Any]:
    plan = ctx.plan
    args = {
        "host": HOST, "port": server.port, "run_id": f"{ctx.run_id}prune{tag}", "client": 0, "batch": 1,
        "customers": plan.customers_per_client, "secret": BENCH_SECRET, "rate": plan.prune_rate,
        "duration": plan.prune_seconds, "connections": 32,
    }  # fmt: skip
    with start_workers(fixed_rate_main, [args]) as group:
        group.wait_ready(30)
        group.go()
        report = group.collect(plan.prune_seconds + 40)[0]
    if "error" in report:
        raise RuntimeError(f"poster failed: {report['error']}")
    figures = {**latency_ms(report["latencies_ms"]), "ok": report["ok"], "failed": report["failed"]}
    ctx.log(f"  ingest {tag}: p99 {figures['p99_ms']} ms over {report['ok']} POSTs")
    return figures


def count_events(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM whatsapp_hubevent").fetchone()[0])  # type: ignore[index]


def run(ctx: Context) -> None:
    plan = ctx.plan
    rows = specs(plan)
    name = ctx.database_url.rsplit("/", 1)[1] + "_eventlog"
    env = dict(ctx.env)
    env["DATABASE_URL"] = url = prepare_database(
        database_url(ctx.database_url, "postgres"), name, env, recreate=False
    )
    filled = fill(ctx, url, plan.prune_events)
    token = issue_token(env)
    with running("prune-hub", hub_argv(plan.production_server), env) as server:
        ingest_window(ctx, server, "warm-up")
        before = ingest_window(ctx, server, "without prune")
        events_before = count_events(url)
        prune = subprocess.Popen(  # noqa: S603 - this project's own command with fixed arguments
            [PYTHON, "manage.py", "prune_events", "--days", "30"],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # The window opens once the prune deletes (the command takes a while to start).
            deadline = time.monotonic() + 60
            while count_events(url) >= events_before and time.monotonic() < deadline:
                time.sleep(0.2)
            during = ingest_window(ctx, server, "during prune")
            still_pruning = prune.poll() is None
        finally:
            prune.terminate()
            prune.wait(30)
        # Each POST logs one event.
        pruned = events_before + during["ok"] - count_events(url)
        after = ingest_window(ctx, server, "after prune")
        with psycopg.connect(url) as conn:
            newest = int(conn.execute("SELECT max(seq) FROM whatsapp_hubevent").fetchone()[0])  # type: ignore[index]
        replay_url = server.url(f"/ws/whatsapp/inbox/?after={newest - plan.replay_events}", "ws")
        headers = {"Authorization": f"Bearer {token}"}
        asyncio.run(receive(replay_url, headers, 1))
        replay = asyncio.run(receive(replay_url, headers, plan.replay_events))
    # The faster of the windows around the prune: one noisy window must not make the prune look cheap.
    quiet = [p99 for p99 in (before["p99_ms"], after["p99_ms"]) if p99]
    baseline = min(quiet) if quiet else None
    ctx.log(f"  pruned {pruned:,} events in {plan.prune_seconds:g} s; replay {replay['seconds']:.3f} s")
    common = {
        "filled": filled,
        "pruned_during_window": pruned,
        "prune_ran_throughout": still_pruning,
        "server": plan.production_server,
    }
    ctx.rows[ROW] = rows[ROW].measured(
        during["p99_ms"], baseline, during=during, before=before, after=after, rate=plan.prune_rate, **common
    )
    ctx.rows[REPLAY_ROW] = rows[REPLAY_ROW].measured(
        replay["seconds"], None, replay=replay, events=plan.replay_events, **common
    )
