"""`python -m bench [--smoke | --long] [--only NAME ...]`: run the scenarios and write the results files."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from bench import report
from bench.plan import FULL, LONG, LONG_ONLY, LONG_SCENARIOS, SMOKE, Context
from bench.results import Row, RowSpec
from bench.scenarios import (
    big_body,
    connections,
    fanout,
    handshakes,
    ingest,
    latency,
    many_sockets,
    prune,
    replay,
    search,
    storm,
)
from bench.servers import hub_env, issue_token, prepare_database
from bench.workers import raise_fd_limit

RESULTS = Path(__file__).resolve().parent / "results"
Scenario = tuple[Callable[[Context], None], Callable[[Any], dict[str, RowSpec]]]
SCENARIOS: dict[str, Scenario] = {
    "ingest": (ingest.run, ingest.specs),
    "latency": (latency.run, latency.specs),
    "fanout": (fanout.run, fanout.specs),
    "connections": (connections.run, connections.specs),
    "handshakes": (handshakes.run, handshakes.specs),
    "many_sockets": (many_sockets.run, many_sockets.specs),
    "storm": (storm.run, storm.specs),
    "search": (search.run, search.specs),
    "prune": (prune.run, prune.specs),
    "replay": (replay.run, replay.specs),
    "big_body": (big_body.run, big_body.specs),
}


class ScenarioTimeout(Exception):
    """A scenario ran past its hard bound."""


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise ScenarioTimeout(f"ran past its bound of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_scenario(name: str, ctx: Context) -> dict[str, Row]:
    run, specs = SCENARIOS[name]
    expected = specs(ctx.plan)
    started = time.monotonic()
    ctx.rows = {}
    try:
        with time_bound(ctx.plan.bounds[name]):
            run(ctx)
    except Exception as error:
        ctx.log(f"{name}: stopped: {type(error).__name__}: {error}")
        reason = f"{type(error).__name__}: {error}"[:500]
    else:
        reason = "not reached"
    ctx.log(f"{name}: {time.monotonic() - started:.0f} s")
    return {row: ctx.rows.get(row) or spec.skipped(reason) for row, spec in expected.items()} | ctx.rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds per scenario; writes results/smoke/"
    )
    parser.add_argument(
        "--long",
        action="store_true",
        help="the scale rows at full size (" + ", ".join(LONG_SCENARIOS) + "); writes results/long.*",
    )
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="run only these scenarios")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server the bench may create its scratch database on",
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE"),
        help="the scratch database's name (default bench_hub, or bench_hub_smoke with --smoke)",
    )
    parser.add_argument("--out", type=Path, help="results directory (default: bench/results[/smoke])")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = SMOKE if args.smoke else LONG if args.long else FULL
    # Only a complete full (or long) run writes bench/results/latest.* (long.*); the rest go to the
    # git-ignored smoke/.
    default_out = RESULTS / "smoke" if args.smoke else RESULTS
    if args.only and not args.smoke:
        default_out = RESULTS / "smoke" / "partial"
    out: Path = args.out or default_out
    if args.only:
        chosen = list(args.only)
    elif args.long:
        chosen = list(LONG_SCENARIOS)
    else:
        chosen = [name for name in SCENARIOS if args.smoke or name not in LONG_ONLY]
    raise_fd_limit()
    started = time.time()
    env = hub_env("", args.redis)
    # Two runs sharing one PostgreSQL server need names of their own: a full run drops its database.
    name = args.database or ("bench_hub_smoke" if args.smoke else "bench_hub")
    # The full run starts from an empty database; smoke runs reuse theirs (a migrate is much quicker).
    env["DATABASE_URL"] = prepare_database(args.postgres, name, env, recreate=not args.smoke)
    ctx = Context(plan=plan, env=env, database_url=env["DATABASE_URL"], redis_url=args.redis, token="")
    ctx.token = issue_token(env)
    ctx.log(f"{plan.mode} run; database {name}, redis {args.redis}")
    scenarios: dict[str, Row] = {}
    for scenario in chosen:
        scenarios |= run_scenario(scenario, ctx)
    if plan is FULL and not args.only:
        for scenario in LONG_ONLY:
            reason = "measured by `python -m bench --long`: bench/results/long.json"
            scenarios |= {row: spec.skipped(reason) for row, spec in SCENARIOS[scenario][1](LONG).items()}
    paths = report.write(out, plan.mode, started, scenarios, "long" if plan is LONG else "latest")
    print(report.markdown_table(scenarios))
    ctx.log("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
