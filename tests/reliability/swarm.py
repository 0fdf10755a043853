"""Thousands of inbox sockets in one client process, which checks every frame they get.

Run by the scenarios as `python -m tests.reliability.swarm` (one process per few thousand sockets: this
machine allows 20,000 open files per process, and the client's CPU must not be the bottleneck). It
speaks JSON lines: on stdout `{"connected": ...}` once every socket is open, then, after the parent
writes `end <seq>` on stdin, one report of what every socket got against the log's seqs `after+1 .. end`.
Latency is measured from the wall-clock time the sender wrote into each message's text (`t=<time>`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.support import REPO_ROOT

INBOX = "/ws/whatsapp/inbox/"
CONNECTING_AT_ONCE = 100


@dataclass
class Socket:
    seqs: list[int] = field(default_factory=list)
    latencies_ms: list[int] = field(default_factory=list)
    closed_early: bool = False
    # How it ended before the parent stopped it: the close code received, "sent" (this client closed
    # it, e.g. its keepalive), "none" (no close frame either way), or "never opened".
    ended: str | None = None
    done: bool = False


class Progress:
    """Counts the sockets that reached the end seq (or closed), and says when all have."""

    def __init__(self, sockets: list[Socket]) -> None:
        self.sockets = sockets
        self.end: int | None = None
        self.finished = 0
        self.all_done = asyncio.Event()

    def check(self, socket: Socket) -> None:
        if socket.done or self.end is None:
            return
        if socket.closed_early or (socket.seqs and socket.seqs[-1] >= self.end):
            socket.done = True
            self.finished += 1
            if self.finished == len(self.sockets):
                self.all_done.set()

    def wait_for(self, end: int) -> asyncio.Event:
        self.end = end
        for socket in self.sockets:
            self.check(socket)
        return self.all_done


def stamp_text(index: int) -> str:
    """The text a sender puts in a message so every receiver can time it."""
    return f"t={time.time():.6f} n={index}"


def stamp_of(frame: dict[str, Any]) -> float | None:
    text = (frame.get("message") or {}).get("text_body") or ""
    head = text.partition(" ")[0]
    return float(head[2:]) if head.startswith("t=") else None


async def read(connection: ClientConnection, socket: Socket, progress: Progress) -> None:
    try:
        async for text in connection:
            frame = json.loads(text)
            seq = frame.get("seq")
            if not isinstance(seq, int):
                continue
            socket.seqs.append(seq)
            sent = stamp_of(frame)
            if sent is not None:
                socket.latencies_ms.append(round((time.time() - sent) * 1000))
            progress.check(socket)
    except ConnectionClosed as closed:
        socket.ended = str(closed.rcvd.code) if closed.rcvd else "sent" if closed.sent else "none"
    else:
        socket.ended = str(connection.close_code)
    socket.closed_early = True
    progress.check(socket)


async def open_one(
    url: str, token: str, socket: Socket, progress: Progress, tasks: list[asyncio.Task[None]]
) -> bool:
    for _ in range(5):
        try:
            connection = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=60,
                max_queue=None,
                # The server pings (uvicorn: every 20 s) and closes a socket that does not answer; this
                # client's own pings would measure how starved the client is, not the hub.
                ping_interval=None,
            )
        # A server that drops a handshake under load: retry, as a real client does.
        except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake):
            await asyncio.sleep(0.5)
            continue
        tasks.append(asyncio.create_task(read(connection, socket, progress)))
        return True
    # Never connected: nothing to wait for (the report's `connected` says so).
    socket.closed_early = True
    socket.ended = "never opened"
    return False


def report(sockets: list[Socket], after: int, end: int, connected: int) -> dict[str, Any]:
    expected = set(range(after + 1, end + 1))
    lost = duplicated = out_of_order = 0
    latencies: Counter[int] = Counter()
    for socket in sockets:
        seen = Counter(socket.seqs)
        lost += len(expected - set(seen))
        duplicated += sum(n - 1 for n in seen.values() if n > 1)
        out_of_order += socket.seqs != sorted(set(socket.seqs))
        latencies.update(socket.latencies_ms)
    return {
        "sockets": len(sockets),
        "connected": connected,
        "frames": sum(len(s.seqs) for s in sockets),
        "lost": lost,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "closed_early": sum(s.closed_early for s in sockets),
        "ended": dict(Counter(s.ended for s in sockets if s.ended)),
        "latency_ms": dict(latencies),
    }


async def main(urls: list[str], count: int, token: str, after: int) -> None:
    sockets = [Socket() for _ in range(count)]
    progress = Progress(sockets)
    tasks: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    began = time.monotonic()

    async def one(index: int) -> bool:
        async with gate:
            url = f"{urls[index % len(urls)]}{INBOX}?after={after}"
            return await open_one(url, token, sockets[index], progress, tasks)

    opened = await asyncio.gather(*(one(i) for i in range(count)))
    connected = sum(opened)
    print(json.dumps({"connected": connected, "seconds": round(time.monotonic() - began, 2)}), flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    end = int(line.split()[1])
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(progress.wait_for(end).wait(), 120)
    # Anything still on its way would show up as a duplicate or a frame past `end`.
    await asyncio.sleep(0.5)
    print(json.dumps(report(sockets, after, end, connected)), flush=True)
    for task in tasks:
        task.cancel()


class SwarmProcess:
    """The parent's handle on one swarm: start it, wait for its sockets, tell it the end, read its report."""

    def __init__(self, urls: list[str], count: int, token: str, after: int) -> None:
        self.count = count
        # Errors go to a file, not a pipe, so a full pipe never blocks the swarm.
        self.errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.swarm", ",".join(urls), str(count), str(after)],
            cwd=REPO_ROOT,
            # In the environment, not the arguments, which any process may read.
            env={**os.environ, "SWARM_TOKEN": token},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )

    def read_line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.errors.seek(0)
            raise RuntimeError(f"swarm ended: {self.errors.read().decode(errors='replace')[-3000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def finish(self, end: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"end {end}\n")
        self.process.stdin.flush()
        return self.read_line()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.errors):
            if stream is not None:
                stream.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("urls")
    parser.add_argument("count", type=int)
    parser.add_argument("after", type=int)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.urls.split(","), arguments.count, os.environ["SWARM_TOKEN"], arguments.after))
