"""Signed webhook POSTs over raw HTTP/1.1 keep-alive connections, closed-loop or at a fixed rate.

Each body carries `bench:<unix time>` in its text, stamped as the POST starts, so that a socket client
in another process can measure webhook-to-socket latency from the frame alone.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.workers import CpuWindow, Report, Signals, wait_event
from webhook.samples import encode, envelope, text_message
from webhook.signature import compute_signature

WEBHOOK_PATH = "/api/whatsapp/webhook/"
CUSTOMERS_PER_CLIENT = 500
MARKER = "bench:"
TAIL_SECONDS = 5.0


class HttpError(Exception):
    """The server answered something this client cannot read, or closed the connection."""


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, signature: str) -> int:
        if self.writer is None or self.reader is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        try:
            return await self._read_response(self.reader)
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self.close()
            raise HttpError(str(error)) from error

    async def _read_response(self, reader: asyncio.StreamReader) -> int:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        else:
            raise HttpError("response without a length")
        if headers.get("connection") == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = self.reader = None


class Bodies:
    """Webhook bodies of one client: `size` text messages from distinct customers per POST."""

    def __init__(
        self, run_id: str, client: int, size: int, secret: str, customers: int = CUSTOMERS_PER_CLIENT
    ) -> None:
        self.prefix = f"wamid.bench.{run_id}.{client}"
        self.customers = customers
        self.first_customer = 15_550_000_000 + client * 100_000
        self.size, self.secret, self.count = size, secret, 0

    def next(self) -> tuple[bytes, str]:
        now = time.time()
        changes = []
        for _ in range(self.size):
            index = self.count
            self.count += 1
            wa_id = str(self.first_customer + index % self.customers)
            changes.append(text_message(f"{self.prefix}.{index}", wa_id, f"{MARKER}{now:.6f}", int(now)))
        body = encode(envelope(changes))
        return body, compute_signature(self.secret, body)


def _summary(latencies: list[float], ok: int, failed: int, statuses: dict[int, int], span: float) -> Report:
    return {"latencies_ms": latencies, "ok": ok, "failed": failed, "statuses": statuses, "span_s": span}


async def closed_loop_main(args: dict[str, Any], signals: Signals) -> Report:
    """`concurrency` connections POST back to back from `go` until `duration` or `max_requests`."""
    bodies = Bodies(args["run_id"], args["client"], args["batch"], args["secret"], args["customers"])
    connections = [Connection(args["host"], args["port"]) for _ in range(args["concurrency"])]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failed = 0
    remaining = args["max_requests"]
    signals.ready.set()
    await wait_event(signals.go, 60)
    window = CpuWindow()
    started = time.monotonic()
    deadline = started + args["duration"]

    async def loop(connection: Connection) -> None:
        nonlocal remaining, failed
        while remaining > 0 and time.monotonic() < deadline and not signals.stop.is_set():
            remaining -= 1
            body, signature = bodies.next()
            t0 = time.perf_counter()
            try:
                status = await asyncio.wait_for(connection.post(WEBHOOK_PATH, body, signature), 30)
            except (HttpError, OSError, TimeoutError):
                failed += 1
                connection.close()
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] = statuses.get(status, 0) + 1

    tasks = [asyncio.create_task(loop(c)) for c in connections]
    # Requests still in flight after the window get TAIL_SECONDS to finish, then count as unfinished.
    _, unfinished = await asyncio.wait(tasks, timeout=args["duration"] + TAIL_SECONDS)
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    span = time.monotonic() - started
    share = window.share()
    for connection in connections:
        connection.close()
    ok = statuses.get(200, 0)
    report = _summary(latencies, ok, failed + sum(statuses.values()) - ok, statuses, span)
    report.update(load_core_share=share, unfinished=len(unfinished))
    return report


async def fixed_rate_main(args: dict[str, Any], signals: Signals) -> Report:
    """POST at `rate` per second for `duration` s (open loop) over up to `connections` connections."""
    bodies = Bodies(args["run_id"], args["client"], args["batch"], args["secret"], args["customers"])
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(args["connections"]):
        idle.put_nowait(Connection(args["host"], args["port"]))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failed = 0
    late = 0
    signals.ready.set()
    await wait_event(signals.go, 60)
    window = CpuWindow()
    started = time.monotonic()
    total = int(args["rate"] * args["duration"])

    async def one() -> None:
        nonlocal failed
        connection = await idle.get()
        body, signature = bodies.next()
        t0 = time.perf_counter()
        try:
            status = await asyncio.wait_for(connection.post(WEBHOOK_PATH, body, signature), 30)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        except (HttpError, OSError, TimeoutError):
            failed += 1
            connection.close()
        finally:
            idle.put_nowait(connection)

    tasks = []
    for index in range(total):
        if signals.stop.is_set():
            break
        delay = started + index / args["rate"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late += 1
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    span = time.monotonic() - started
    share = window.share()
    while not idle.empty():
        idle.get_nowait().close()
    ok = statuses.get(200, 0)
    report = _summary(latencies, ok, failed + sum(statuses.values()) - ok, statuses, span)
    report.update(load_core_share=share, late_starts=late, planned=total)
    return report
