"""Profile the hub's webhook path: py-spy samples a daphne process under the scenario-1 load.

    python -m bench.profile [--seconds 15] [--concurrency 16] [--batch 1]
    python -m bench.profile --fanout 1000 --rate 10 [--seconds 10]
    python -m bench.profile --handshakes 5000 [--server uvicorn]

Writes bench/results/smoke/profile/ (git-ignored): `ingest.txt` or `fanout.txt` (collapsed stacks,
for flame-graph tools or speedscope) and `*-top.txt` (functions by the share of busy samples they
appear in). Needs py-spy (the bench extra) and permission to trace the process.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
from collections import Counter
from pathlib import Path

from bench.plan import FULL, Context
from bench.scenarios import fanout, handshakes
from bench.scenarios.ingest import measure
from bench.servers import (
    HUB_SERVERS,
    PYTHON,
    daphne_argv,
    hub_argv,
    hub_env,
    issue_token,
    issue_tokens,
    prepare_database,
    running,
)
from bench.workers import raise_fd_limit, start_workers
from bench.ws_load import sockets_main, split_counts

OUT = Path(__file__).resolve().parent / "results" / "smoke" / "profile"
IDLE = ("select (selectors.py", "wait (threading.py", "_worker (concurrent/futures/thread.py", "poll (")


def top_functions(collapsed: Path, limit: int = 40) -> str:
    """Inclusive share of samples per function, over busy samples only (idle waits left out)."""
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if any(frames[-1].startswith(idle) for idle in IDLE):
            continue
        count = int(count_text)
        busy += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{busy} busy samples; inclusive share of each function"]
    lines += [f"{100 * n / busy:5.1f}%  {frame}" for frame, n in inclusive.most_common(limit)]
    return "\n".join(lines) + "\n"


def spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - py-spy from this environment, fixed arguments
        [str(Path(PYTHON).parent / "py-spy"), "record", "-p", str(pid), "-d", str(int(seconds)),
         "-r", "250", "-f", "raw", "--threads", "--nonblocking", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def profile_fanout(ctx: Context, sockets: int, rate: float, seconds: float) -> Path:
    """py-spy on the process holding `sockets` inbox sockets while events arrive at `rate` per second."""
    collapsed = OUT / "fanout.txt"
    with running("hub-fanout", lambda port: daphne_argv("asgi:application", port), ctx.env) as server:
        fanout.seed_event(ctx, server)
        headers = {"Authorization": f"Bearer {ctx.token}"}
        args = [
            {"url": server.url("/ws/whatsapp/inbox/", "ws"), "headers": headers,
             "count": c, "socketio": False, "lean": True, "record": False, "connect_timeout": 60}
            for c in split_counts(sockets, 2)
        ]  # fmt: skip
        phases: list[tuple[float | None, int, float]] = [(rate, int(rate * seconds), seconds + 5)]
        with (
            fanout.start_publisher(ctx, "hub", phases) as publisher,
            start_workers(sockets_main, args) as group,
        ):
            group.wait_ready(90)
            group.go()
            tracer = spy(server.pid, seconds, collapsed)
            publisher.go()
            publisher.collect(seconds + 30)
            tracer.wait(60)
            group.reports()
    return collapsed


def profile_handshakes(ctx: Context, sockets: int, server_name: str) -> Path:
    """py-spy on one process while `sockets` sockets, each with a token of its own, connect at once."""
    collapsed = OUT / "handshakes.txt"
    with running("hub-handshakes", hub_argv(server_name), ctx.env) as server:
        url = server.url("/ws/whatsapp/inbox/", "ws")
        handshakes.burst(ctx, server, url, issue_tokens(ctx.database_url, 20))
        tokens = issue_tokens(ctx.database_url, sockets)
        # The burst's own length bounds the trace; py-spy stops when the process's sockets are let go.
        tracer = spy(server.pid, 600, collapsed)
        figures = handshakes.burst(ctx, server, url, tokens)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(60)
    print(f"{figures['handshakes_per_s']} handshakes/s while profiled")
    return collapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--fanout", type=int, metavar="SOCKETS", help="profile the fan-out instead")
    parser.add_argument("--rate", type=float, default=10.0, help="events/s for --fanout")
    parser.add_argument("--handshakes", type=int, metavar="SOCKETS", help="profile handshakes instead")
    parser.add_argument(
        "--server", choices=HUB_SERVERS, default="uvicorn", help="the server for --handshakes"
    )
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database", default="bench_hub_profile", help="the kept scratch database's name")
    args = parser.parse_args()
    raise_fd_limit()
    OUT.mkdir(parents=True, exist_ok=True)
    env = hub_env("", args.redis)
    env["DATABASE_URL"] = prepare_database(args.postgres, args.database, env, recreate=False)
    ctx = Context(plan=FULL, env=env, database_url=env["DATABASE_URL"], redis_url=args.redis, token="")
    ctx.token = issue_token(env)
    if args.handshakes:
        summary = top_functions(profile_handshakes(ctx, args.handshakes, args.server))
        (OUT / "handshakes-top.txt").write_text(summary)
        print(summary)
        return
    if args.fanout:
        collapsed = profile_fanout(ctx, args.fanout, args.rate, args.seconds)
        summary = top_functions(collapsed)
        (OUT / "fanout-top.txt").write_text(summary)
        print(summary)
        return
    collapsed = OUT / "ingest.txt"
    with running("hub-profiled", lambda port: daphne_argv("asgi:application", port), env) as server:
        measure(ctx, server, "warmup", 50, 4, 30.0, cap=20)
        tracer = spy(server.pid, args.seconds, collapsed)
        kind = "single" if args.batch == 1 else f"batch{args.batch}"
        figures = measure(ctx, server, kind, args.batch, args.concurrency, args.seconds)
        tracer.wait(60)
    summary = top_functions(collapsed)
    (OUT / "ingest-top.txt").write_text(summary)
    print(f"{figures['webhooks_per_s']} webhooks/s while profiled; {collapsed}")
    print(summary)


if __name__ == "__main__":
    main()
