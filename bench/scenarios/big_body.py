"""Scenario 6: one webhook body of many tiny messages (about 3.9 MiB): the hub's peak memory per MiB.

The hub (daphne, PostgreSQL) and the bare endpoint each get one warm-up POST, then the big body once.
A sampler reads the server's RSS every few milliseconds while the POST runs: the row is the peak
growth over the RSS before, per MiB of body; `details` has the RSS a second after the answer too.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from bench.plan import Context, Plan
from bench.results import RowSpec
from bench.servers import BENCH_SECRET, HUB_APP, Server, daphne_argv, running
from webhook import samples
from webhook.signature import compute_signature

BARE_APP = "bench.baselines.bare_ingest:app"
ROW = "ingest.big_body"
MIB = 1024 * 1024
SAMPLE_SECONDS = 0.005
# Peak RSS growth per MiB of body the hub may reach (the body's 33,000 parsed messages, their rows
# and events in chunks); it was 80 before the batch was written in chunks.
TARGET_MIB_PER_MIB = 40.0
CUSTOMERS = 100


def specs(plan: Plan) -> dict[str, RowSpec]:
    return {
        ROW: RowSpec(
            "MiB RSS per MiB body",
            "lower",
            TARGET_MIB_PER_MIB,
            target_on="value",
            title=f"peak RSS growth per MiB of one {plan.big_body_messages}-message body, hub vs bare",
        )
    }


def big_body(messages: int, run_id: str) -> bytes:
    values = [
        {
            "contacts": [
                samples.contact(name=f"C{c}", wa_id=f"1555{run_id[-4:]}{c:04d}") for c in range(CUSTOMERS)
            ],
            "messages": [
                samples.inbound_message(
                    f"wamid.big.{run_id}.{i}",
                    1_790_000_000 + i,
                    "text",
                    {"body": "ok"},
                    wa_id=f"1555{run_id[-4:]}{i % CUSTOMERS:04d}",
                )
                for i in range(messages)
            ],
        }
    ]
    return samples.encode(samples.envelope(values))


def post(server: Server, body: bytes) -> int:
    headers = {
        "X-Hub-Signature-256": compute_signature(BENCH_SECRET, body),
        "Content-Type": "application/json",
    }
    return httpx.post(
        server.url("/api/whatsapp/webhook/"), content=body, headers=headers, timeout=120
    ).status_code


def measure(ctx: Context, name: str, app: str, body: bytes) -> dict[str, Any]:
    with running(name, lambda port: daphne_argv(app, port), ctx.env) as server:
        post(server, big_body(10, f"{ctx.run_id}{name}warm"))
        time.sleep(0.5)
        before = server.rss_kib()
        peak = before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, server.rss_kib())
                time.sleep(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        status = post(server, body)
        seconds = time.monotonic() - started
        done.set()
        sampler.join()
        time.sleep(1.0)
        after = server.rss_kib()
    size = len(body) / MIB
    figures = {
        "status": status,
        "body_mib": round(size, 2),
        "seconds": round(seconds, 2),
        "rss_before_mib": round(before / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "peak_delta_per_mib": round((peak - before) / 1024 / size, 2),
    }
    ctx.log(f"  {name}: {figures}")
    if status != 200:
        raise RuntimeError(f"{name} answered {status} to the big body")
    return figures


def run(ctx: Context) -> None:
    body = big_body(ctx.plan.big_body_messages, ctx.run_id)
    ctx.log(f"big body: {ctx.plan.big_body_messages} messages, {len(body) / MIB:.2f} MiB")
    hub = measure(ctx, "hub-daphne", HUB_APP, body)
    bare = measure(ctx, "bare-daphne", BARE_APP, body)
    ctx.rows[ROW] = specs(ctx.plan)[ROW].measured(
        hub["peak_delta_per_mib"], bare["peak_delta_per_mib"], hub=hub, bare=bare
    )
