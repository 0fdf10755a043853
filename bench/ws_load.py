"""WebSocket clients in bulk: connect N sockets, then count frames and their latency, or just hold them.

The same client reads the hub, the bare `websockets` server and python-socketio (whose Engine.IO
packets it answers itself: `40` to join the default namespace, `3` to each `2` ping), so the three
servers are read at the same cost. A frame's latency is its receipt time minus the `bench:<unix time>`
stamp it carries (set when its POST or publish started, in another process on the same clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.workers import CpuWindow, Report, Signals, wait_event

MARKER = "bench:"
STAMP_LENGTH = 17  # f"{time.time():.6f}"
CONNECT_CONCURRENCY = 64


@dataclass
class SocketStats:
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    close_code: int | None = None
    # The connection ended without a close frame and without the client closing it.
    lost: bool = False
    stamps: list[tuple[float, float]] = field(default_factory=list)


def stamp_of(frame: str) -> float | None:
    index = frame.find(MARKER)
    if index < 0:
        return None
    start = index + len(MARKER)
    try:
        return float(frame[start : start + STAMP_LENGTH])
    except ValueError:
        return None


async def _open(url: str, headers: dict[str, str], socketio: bool) -> ClientConnection:
    ws = await connect(
        url, additional_headers=headers, compression=None, ping_interval=None, max_size=None, open_timeout=30
    )
    if socketio:
        # Engine.IO v4: the server's open packet, then join the default namespace.
        await asyncio.wait_for(ws.recv(), 10)
        await ws.send("40")
        while not str(await asyncio.wait_for(ws.recv(), 10)).startswith("40"):
            pass
    return ws


def _record_limit(args: dict[str, Any]) -> int:
    """Stamps kept per socket: all, none, or the first `record_limit` (a long burst is only counted)."""
    if args.get("record_limit") is not None:
        return int(args["record_limit"])
    return 1 << 62 if args["record"] else 0


async def _read(ws: ClientConnection, stats: SocketStats, args: dict[str, Any]) -> None:
    socketio, expect = args["socketio"], args.get("expect")
    # Stamps kept per socket: all of them, or the first `record_limit` (a long burst is only counted).
    record = (
        args["record_limit"] if args.get("record_limit") is not None else (1 << 62 if args["record"] else 0)
    )
    try:
        async for message in ws:
            now = time.time()
            frame = message if isinstance(message, str) else message.decode()
            if socketio and frame == "2":
                await ws.send("3")
                continue
            stats.count += 1
            stats.first = stats.first or now
            stats.last = now
            if len(stats.stamps) < record and (stamp := stamp_of(frame)) is not None:
                stats.stamps.append((stamp, (now - stamp) * 1000))
            if expect and stats.count >= expect:
                return
    except ConnectionClosed as closed:
        stats.close_code = closed.rcvd.code if closed.rcvd else None
        return
    stats.close_code = ws.close_code


async def sockets_main(args: dict[str, Any], signals: Signals) -> Report:
    """Connect `count` sockets to `url`, read until `stop` (or `expect` frames each), then report.

    With `lean`, frames are counted by bench/ws_counter.py instead of the `websockets` client.
    """
    from bench.ws_counter import CountingProtocol, open_counting

    limit = asyncio.Semaphore(args.get("connect_concurrency", CONNECT_CONCURRENCY))
    sockets: list[ClientConnection] = []
    lean: list[CountingProtocol] = []
    stats: list[SocketStats] = []
    failures: dict[str, int] = {}
    started = time.monotonic()
    deadline = started + args["connect_timeout"]
    record_limit = _record_limit(args)
    handshakes_ms: list[float] = []
    if args.get("connect_on_go"):
        # All clients connect at once: from the orchestrator's `go`, not from each one's start.
        await wait_event(signals.go, args["connect_timeout"] + 60)
        started = time.monotonic()
        deadline = started + args["connect_timeout"]
    connect_started = time.time()

    tokens: list[str] = args.get("tokens") or []

    async def open_one(index: int) -> None:
        # With `tokens`, each socket authenticates with a token of its own, as distinct apps would.
        headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"} if tokens else args["headers"]
        async with limit:
            if time.monotonic() > deadline:
                failures["connect deadline"] = failures.get("connect deadline", 0) + 1
                return
            opened = time.perf_counter()
            try:
                if args.get("lean"):
                    s = SocketStats()
                    lean.append(await open_counting(args["url"], headers, s, record_limit, args["socketio"]))
                    stats.append(s)
                else:
                    sockets.append(await _open(args["url"], headers, args["socketio"]))
            except Exception as error:
                key = type(error).__name__
                failures[key] = failures.get(key, 0) + 1
                return
            handshakes_ms.append((time.perf_counter() - opened) * 1000)

    await asyncio.gather(*(open_one(index) for index in range(args["count"])))
    connect_s = time.monotonic() - started
    connect_ended = time.time()
    socket_stats = [SocketStats() for _ in sockets]
    stats += socket_stats
    readers = [asyncio.create_task(_read(ws, s, args)) for ws, s in zip(sockets, socket_stats, strict=True)]
    expect: int = args.get("expect") or 0

    def finished() -> bool:
        if readers:
            return all(r.done() for r in readers)
        return bool(expect) and all(
            s.count >= expect or p.closed.done() for s, p in zip(stats, lean, strict=True)
        )

    signals.ready.set()
    await wait_event(signals.go, args["connect_timeout"] + 120)
    window = CpuWindow()
    # `stop` is a process event, which cannot be awaited: poll it.
    while not signals.stop.is_set() and not finished():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    share, used = window.share(), window.seconds()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for protocol in lean:
        protocol.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), 3)
    counts = [s.count for s in stats]
    codes: dict[str, int] = {}
    for s in stats:
        if s.close_code is not None:
            codes[str(s.close_code)] = codes.get(str(s.close_code), 0) + 1
    return {
        "connected": len(stats),
        "failures": failures,
        "connect_s": connect_s,
        "connect_started": connect_started,
        "connect_ended": connect_ended,
        "handshakes_ms": handshakes_ms,
        "frames": sum(counts),
        "min_frames": min(counts, default=0),
        "first": min((s.first for s in stats if s.first), default=0.0),
        "last": max((s.last for s in stats), default=0.0),
        "stamps": [pair for s in stats for pair in s.stamps],
        "closed_by_server": codes,
        "lost_connections": sum(1 for s in stats if s.lost),
        "load_core_share": share,
        "load_cpu_s": used,
    }


def split_counts(total: int, parts: int) -> list[int]:
    """`total` sockets over at most `parts` client processes, none empty."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
