"""The reconnect storm's client: sockets that keep every seq they read and reconnect with `after`.

Each socket opens on `url` and records the `seq` of every event frame. A socket the server closes
(the restarting process's 4012) waits for `go`, then reconnects to `reconnect_url?after=<last seq
read>` at the same moment as every other dropped socket, reads until it holds `final` (a shared value
the orchestrator sets once the missed events are logged), and lingers `linger_s` for any duplicate.
Sockets that were never closed read on until `final` as well. The report carries every socket's seqs
above `since` so the orchestrator can check them against the log.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.workers import Report, Signals, wait_event

OPEN_TIMEOUT = 60
RECV_POLL_S = 1.0


@dataclass
class Tracked:
    token: str
    seqs: list[int] = field(default_factory=list)
    close_code: int | None = None
    reconnected_at: float = 0.0
    caught_up_at: float = 0.0
    error: str = ""


async def _open(url: str, token: str) -> ClientConnection:
    return await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        ping_interval=None,
        max_size=None,
        open_timeout=OPEN_TIMEOUT,
    )


def _seq(message: str | bytes) -> int | None:
    try:
        frame = json.loads(message)
    except ValueError:
        return None
    seq = frame.get("seq") if isinstance(frame, dict) else None
    return seq if isinstance(seq, int) else None


async def _read(ws: ClientConnection, socket: Tracked, final: Any, linger_s: float) -> None:
    """Read until the socket holds `final.value` (once set) and `linger_s` has passed, or it closes."""
    done_at = 0.0
    while True:
        target = final.value
        if target and not done_at and socket.seqs and socket.seqs[-1] >= target:
            # Read live before `final` was set (a socket that was never dropped).
            socket.caught_up_at = time.time()
            done_at = time.monotonic()
        if done_at and time.monotonic() - done_at >= linger_s:
            return
        try:
            # A long poll: thousands of sockets a process, each waking on every timeout, cost a core.
            message = await asyncio.wait_for(ws.recv(), RECV_POLL_S)
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            # 1006: closed without a close frame (the process went away).
            socket.close_code = closed.rcvd.code if closed.rcvd else 1006
            return
        seq = _seq(message)
        if seq is None:
            continue
        socket.seqs.append(seq)
        if target and seq >= target and not done_at:
            socket.caught_up_at = time.time()
            done_at = time.monotonic()


async def storm_main(args: dict[str, Any], signals: Signals) -> Report:
    final, linger = args["final"], args.get("linger_s", 1.0)
    limit = asyncio.Semaphore(args.get("connect_concurrency", 64))
    sockets = [Tracked(token) for token in args["tokens"]]

    async def life(socket: Tracked) -> None:
        try:
            async with limit:
                ws = await _open(args["url"], socket.token)
            connected.append(socket)
            async with ws:
                await _read(ws, socket, final, linger)
            if socket.close_code is None:
                return
            # Dropped by the restarting process: reconnect with the others on `go`.
            await wait_event(signals.go, args["wait_s"])
            socket.reconnected_at = time.time()
            after = socket.seqs[-1] if socket.seqs else args["since"]
            # As many handshakes in flight as the first connect and the baseline's clients allow.
            async with limit:
                ws = await _open(f"{args['reconnect_url']}?after={after}", socket.token)
            async with ws:
                await _read(ws, socket, final, linger)
        except Exception as error:
            socket.error = f"{type(error).__name__}: {error}"[:200]

    connected: list[Tracked] = []
    tasks = [asyncio.create_task(life(socket)) for socket in sockets]
    deadline = time.monotonic() + args["connect_timeout"]
    while len(connected) + sum(1 for s in sockets if s.error) < len(sockets):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    signals.ready.set()
    # `stop` is a process event, which cannot be awaited: poll it.
    while not signals.stop.is_set() and not all(task.done() for task in tasks):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    since = args["since"]
    return {
        "connected": len(connected),
        "dropped": sum(1 for s in sockets if s.reconnected_at),
        "errors": [s.error for s in sockets if s.error][:5],
        "error_count": sum(1 for s in sockets if s.error),
        "close_codes": sorted({s.close_code for s in sockets if s.close_code is not None}),
        "reconnected_at": [s.reconnected_at for s in sockets if s.reconnected_at],
        "caught_up_at": [s.caught_up_at for s in sockets if s.reconnected_at and s.caught_up_at],
        "seqs": [[q for q in s.seqs if q > since] for s in sockets],
        "was_dropped": [bool(s.reconnected_at) for s in sockets],
    }


async def replay_main(args: dict[str, Any], signals: Signals) -> Report:
    """The baseline's clients: on `go`, every socket opens `url` at once and reads `count` frames."""
    limit = asyncio.Semaphore(args.get("connect_concurrency", 64))
    done: list[float] = []
    errors: list[str] = []

    async def one(token: str) -> None:
        try:
            async with limit:
                ws = await _open(args["url"], token)
            async with ws:
                for _ in range(args["count"]):
                    await asyncio.wait_for(ws.recv(), 30)
            done.append(time.time())
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}"[:200])

    signals.ready.set()
    await wait_event(signals.go, 120)
    started = time.time()
    await asyncio.gather(*(one(token) for token in args["tokens"]))
    return {"started": started, "done_at": done, "errors": errors[:5], "error_count": len(errors)}
