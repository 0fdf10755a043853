"""Scenario 2: webhook-to-socket latency; POSTs to process A, inbox sockets on process B.

Both hub processes share PostgreSQL and Redis. A poster sends signed POSTs at 2 events/s, then at half
the ingest limit measured in scenario 1; every socket reports, for each frame, its receipt time minus
the time its POST started. The baseline is the bare path with the same shape: bare_ingest.py (HMAC,
one insert, a Redis PUBLISH) on daphne, and bare_websockets.py broadcasting to the sockets. The target
rows run both hub processes under the plan's socket server; `latency.<server>.*` rows repeat them under
each other server (baseline: the target row's figure; the bare path's is in the details). The busiest
slow phase is also compared with the bare path under each server that runs the hub: `.production`
(the Dockerfile's uvicorn, p99 <= 1.5x bare) and `.embedded` (daphne, <= 2.0x).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from bench.http_load import fixed_rate_main
from bench.plan import Context, Plan
from bench.results import RowSpec, latency_ms
from bench.servers import BENCH_SECRET, HOST, Server, daphne_argv, hub_argv, module_argv, running
from bench.workers import client_cpu, start_workers
from bench.ws_load import sockets_main, split_counts

INBOX = "/ws/whatsapp/inbox/"
BARE_CHANNEL = "bench.broadcast"
# Fallback when scenario 1 did not run: a conservative guess, reported as such.
DEFAULT_INGEST_LIMIT = 50.0
# The server `python3 scripts/serve.py` runs; the production server is the plan's.
EMBEDDED = "daphne"


def phase_names(plan: Plan, n: int, server: str | None = None) -> list[str]:
    """The rows of `n` subscribers, one per rate; `server` names a comparison row's server."""
    prefix = "latency." if server is None else f"latency.{server}."
    return [f"{prefix}{n}_subs.{plan.slow_rate:g}_per_s", f"{prefix}{n}_subs.half_limit"]


def specs(plan: Plan) -> dict[str, RowSpec]:
    rows = {}
    for n in plan.latency_subscribers:
        slow, fast = phase_names(plan, n)
        rows[slow] = RowSpec(
            "ms", "lower", 50.0, "value", title=f"p99 POST to socket, {n} subscribers, {plan.slow_rate:g}/s"
        )
        # Against the bare path under the same load: at half the ingest limit with 1,000 subscribers the
        # bare path itself falls seconds behind, so no absolute bound says anything about the hub.
        rows[fast] = RowSpec(
            "ms", "lower", 1.5, title=f"p99 POST to socket, {n} subscribers, half the ingest limit, vs bare"
        )
    for server in plan.compared_servers:
        for n in plan.latency_subscribers:
            for name in phase_names(plan, n, server):
                rows[name] = RowSpec(
                    "ms", "lower", title=f"p99 POST to socket, {n} subscribers, hub under {server}"
                )
    n = max(plan.latency_subscribers)
    for role, server, bound in (("production", plan.production_server, 1.5), ("embedded", EMBEDDED, 2.0)):
        rows[bare_row(plan, role)] = RowSpec(
            "ms", "lower", bound,
            title=f"p99 POST to socket, {n} subscribers, {plan.slow_rate:g}/s, hub under {server} vs bare",
        )  # fmt: skip
    return rows


def bare_row(plan: Plan, role: str) -> str:
    """The row comparing the busiest slow phase under the `role` server with the bare path itself."""
    return f"{phase_names(plan, max(plan.latency_subscribers))[0]}.{role}"


Pair = Callable[[Context], AbstractContextManager[tuple[Server, Server, str, dict[str, str]]]]


def hub_pair(server: str) -> Pair:
    """Both hub processes under `server`."""

    @contextmanager
    def pair(ctx: Context) -> Iterator[tuple[Server, Server, str, dict[str, str]]]:
        with ExitStack() as stack:
            poster = stack.enter_context(running(f"hub-a-{server}", hub_argv(server), ctx.env))
            sockets = stack.enter_context(running(f"hub-b-{server}", hub_argv(server), ctx.env))
            yield poster, sockets, sockets.url(INBOX, "ws"), {"Authorization": f"Bearer {ctx.token}"}

    return pair


@contextmanager
def bare_pair(ctx: Context) -> Iterator[tuple[Server, Server, str, dict[str, str]]]:
    env = ctx.env | {"BENCH_PUBLISH_CHANNEL": BARE_CHANNEL}
    bare_ws = module_argv("bench.baselines.bare_websockets", "--redis", ctx.redis_url)
    with ExitStack() as stack:
        poster = stack.enter_context(
            running("bare-ingest", lambda p: daphne_argv("bench.baselines.bare_ingest:app", p), env)
        )
        sockets = stack.enter_context(running("bare-ws", bare_ws, env))
        yield poster, sockets, sockets.url("/", "ws"), {}


def post_phase(ctx: Context, poster: Server, rate: float, seconds: float, tag: str) -> dict[str, Any]:
    args = {
        "host": HOST,
        "port": poster.port,
        "run_id": f"{ctx.run_id}lat{tag}{rate:g}",
        "client": 0,
        "batch": 1,
        "customers": ctx.plan.customers_per_client,
        "secret": BENCH_SECRET,
        "rate": rate,
        "duration": seconds,
        "connections": 32,
    }
    with start_workers(fixed_rate_main, [args]) as group:
        group.wait_ready(30)
        started = time.time()
        group.go()
        report = group.collect(seconds + 40)[0]
    if "error" in report:
        raise RuntimeError(f"poster failed: {report['error']}")
    report["window"] = (started, time.time())
    report["rate"] = rate
    return report


def measure(
    ctx: Context, poster: Server, url: str, headers: dict[str, str], n: int, tag: str
) -> list[dict[str, Any]]:
    """`n` subscribers read while the poster runs both rates; one figure set per rate."""
    plan = ctx.plan
    args = [
        {
            "url": url,
            "headers": headers,
            "count": c,
            "socketio": False,
            "lean": True,
            "record": True,
            "connect_timeout": 60,
        }
        for c in split_counts(n, 2 if n >= 100 else 1)
    ]
    with start_workers(sockets_main, args) as subscribers:
        if not subscribers.wait_ready(90):
            raise RuntimeError("subscribers did not connect")
        subscribers.go()
        time.sleep(0.5)
        phases = []
        for rate, seconds in zip(
            ctx.shared["latency_rates"], (plan.slow_seconds, plan.fast_seconds), strict=True
        ):
            phases.append(post_phase(ctx, poster, rate, seconds, f"{tag}{n}"))
            time.sleep(1.0)
        reports = subscribers.reports()
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise RuntimeError(f"subscriber failed: {errors[0]}")
    connected = sum(r["connected"] for r in reports)
    closed: dict[str, int] = {}
    for r in reports:
        for code, count in r["closed_by_server"].items():
            closed[code] = closed.get(code, 0) + count
    results = []
    for phase in phases:
        start, end = phase["window"]
        lat = [ms for r in reports for stamp, ms in r["stamps"] if start <= stamp <= end]
        results.append(
            {
                **latency_ms(lat),
                "rate_per_s": round(phase["rate"], 1),
                "posted_ok": phase["ok"],
                "post_p99_ms": latency_ms(phase["latencies_ms"])["p99_ms"],
                "late_post_starts": phase["late_starts"],
                "expected_frames": phase["ok"] * connected,
                "received_frames": len(lat),
                "subscribers": connected,
                "closed_by_server": closed,
                "subscriber_cpu": client_cpu(reports),
                "poster_cpu": round(phase["load_core_share"], 2),
            }
        )
        ctx.log(
            f"  {tag} {n} subs @ {phase['rate']:.1f}/s: p99 {results[-1]['p99_ms']} ms, {len(lat)} frames"
        )
    return results


def run_pair(ctx: Context, pair: Pair, tag: str) -> dict[int, list[dict[str, Any]]]:
    ctx.log(f"latency: {tag}")
    figures = {}
    with pair(ctx) as (poster, _sockets, url, headers):
        # Warm both processes: imports, pools, the fan-out's subscription.
        post_phase(ctx, poster, 5, 0.4, f"{tag}warm")
        for n in ctx.plan.latency_subscribers:
            figures[n] = measure(ctx, poster, url, headers, n, tag)
    return figures


def run(ctx: Context) -> None:
    plan = ctx.plan
    rows = specs(plan)
    limit = ctx.shared.get("ingest_limit")
    ctx.shared["latency_rates"] = [plan.slow_rate, max(plan.slow_rate, (limit or DEFAULT_INGEST_LIMIT) / 2)]
    source = "scenario 1" if limit else "default guess (scenario 1 not run)"
    hub = run_pair(ctx, hub_pair(plan.socket_server), "hub")
    bare = run_pair(ctx, bare_pair, "bare")
    for n in plan.latency_subscribers:
        for name, figures, base in zip(phase_names(plan, n), hub[n], bare[n], strict=True):
            figures["ingest_limit_source"] = source
            figures["server"] = plan.socket_server
            ctx.rows[name] = rows[name].measured(figures["p99_ms"], base["p99_ms"], hub=figures, bare=base)
    by_server = {plan.socket_server: hub}
    for server in plan.compared_servers:
        other = by_server[server] = run_pair(ctx, hub_pair(server), f"hub-{server}")
        for n in plan.latency_subscribers:
            for name, figures, base, bare_figures in zip(
                phase_names(plan, n, server), other[n], hub[n], bare[n], strict=True
            ):
                ctx.rows[name] = rows[name].measured(
                    figures["p99_ms"], base["p99_ms"], hub=figures, bare_p99_ms=bare_figures["p99_ms"]
                )
    n = max(plan.latency_subscribers)
    for role, server in (("production", plan.production_server), ("embedded", EMBEDDED)):
        if server in by_server:
            figures, base = by_server[server][n][0], bare[n][0]
            ctx.rows[bare_row(plan, role)] = rows[bare_row(plan, role)].measured(
                figures["p99_ms"], base["p99_ms"], server=server, hub=figures, bare=base
            )
