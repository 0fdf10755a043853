"""Scenario 5: clients that stop reading must not delay the others, end with 4008, and memory stays bounded.

A stalled client here is a real TCP connection that completes the WebSocket handshake with a small receive
buffer and then never reads. Under uvicorn (`--ws websockets`) every frame's send waits for the transport
to drain, so a stalled reader blocks only its own socket's sends: its queue fills (1,000 events), the
fan-out drops it, and the socket ends with 4008 while the other clients get every event on time. Daphne
(Twisted) buffers writes without backpressure instead, so the queue never fills and 4008 is never sent:
the others are still on time, but the stalled socket's backlog lives in the server's memory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
import uuid

import pytest

from store.eventlog import last_seq
from tests.realtime.helpers import make_token
from tests.reliability.clients import (
    INBOX,
    Figures,
    Subscriber,
    WebhookSender,
    check_stream,
    drain_to,
    percentile,
    run_subscribers,
    stop_subscribers,
)
from tests.reliability.cluster import HubProcess, StartHub
from webhook import samples

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HEALTHY, STALLED = 4, 3
BASELINE_POSTS, STALL_POSTS = 100, 300
TEXT = "x" * 4000
LATENCY_BOUND_SECONDS = 2.0
CLOSE_4008 = b"\x88\x02\x0f\xa8"

# Under uvicorn: ten stalled sockets, and webhooks of ten messages (Meta batches) so that the stall phase
# sends each stalled socket far more than its queue (1,000 events) and the kernel's buffers (a few MB) hold.
UVICORN_STALLED = 10
MESSAGES_PER_POST = 10
UVICORN_BASELINE_POSTS, UVICORN_STALL_POSTS = 30, 250
# Bound on the server's RSS growth while stalled: what the queues pin (1,000 shared events) plus a 64 KiB
# transport buffer per socket, with room for the allocator; buffering every frame would need ten times it.
RSS_BOUND_KIB = 32 * 1024
# Production settings: DEBUG keeps every SQL query in memory, which would swamp the measurement.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "reliability-secret-key-" + "x" * 40,
    "DJANGO_SECURE_SSL_REDIRECT": "0",
}


def stalled_socket(hub: HubProcess, token: str) -> socket.socket:
    """Handshake, then never read again; a 4 KiB receive buffer makes the server's writes back up soon."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", hub.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {INBOX} HTTP/1.1\r\nHost: 127.0.0.1:{hub.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def read_everything(sock: socket.socket, within: float = 10.0) -> bytes:
    sock.settimeout(0.5)
    data = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The (opcode, payload) of every complete unmasked frame in `data` (RFC 6455 section 5.2)."""
    frames = []
    at = 0
    while at + 2 <= len(data):
        opcode, length = data[at] & 0x0F, data[at + 1] & 0x7F
        header = 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, at + 2)
            header = 4
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, at + 2)
            header = 10
        if at + header + length > len(data):
            break
        frames.append((opcode, data[at + header : at + header + length]))
        at += header + length
    return frames


def close_code(frames: list[tuple[int, bytes]]) -> int | None:
    """The code of the close frame that ends `frames`, if they end with one."""
    if frames and frames[-1][0] == 0x8 and len(frames[-1][1]) >= 2:
        code: int = struct.unpack_from("!H", frames[-1][1])[0]
        return code
    return None


def text_seqs(frames: list[tuple[int, bytes]]) -> list[int]:
    return [json.loads(payload)["seq"] for opcode, payload in frames if opcode == 0x1]


def posts(count: int, per_post: int = 1) -> tuple[list[bytes], dict[str, bytes]]:
    """`count` signed-ready bodies of `per_post` 4,000-character messages each; and each wamid's body."""
    now = int(time.time())
    by_wamid = {}
    bodies = []
    for index in range(count):
        wamids = [f"wamid.slow.{uuid.uuid4().hex}" for _ in range(per_post)]
        values = [
            samples.text_message(wamid, f"1555750{(index * per_post + k) % 10:04d}", TEXT, now)
            for k, wamid in enumerate(wamids)
        ]
        body = samples.encode(samples.envelope(values))
        bodies.append(body)
        by_wamid.update(dict.fromkeys(wamids, body))
    return bodies, by_wamid


def latencies(
    subscribers: list[Subscriber], sender: WebhookSender, by_wamid: dict[str, bytes]
) -> list[float]:
    """Seconds from the start of the POST that carried each message to its frame, per subscriber."""
    found = []
    for subscriber in subscribers:
        for frame in subscriber.frames:
            body = by_wamid.get(frame.message_id or "")
            if body is not None and frame.type == "message.created":
                found.append(frame.at - (sender.origin + sender.stats.outcomes[body][1]))
    return found


def ms(values: list[float], fraction: float) -> int:
    return round(percentile(values, fraction) * 1000)


def test_stalled_consumers_do_not_delay_others_and_their_backlog_is_measured(start_hub: StartHub) -> None:
    token = make_token("slow")
    start = last_seq()
    hub = start_hub("slow")
    stalled: list[socket.socket] = []
    try:
        baseline, stalled_phase, subscribers, end, rss = asyncio.run(phases(hub, token, start, stalled))
        backlog = [read_everything(s) for s in stalled]
    finally:
        for sock in stalled:
            sock.close()
        hub.stop()
    checks = [check_stream(s.seqs, start, end) for s in subscribers]
    frames_to_stalled = [b.count(b'"type":"message.created"') for b in backlog]
    figures = Figures(
        "slow and dead consumers (daphne)",
        sent=BASELINE_POSTS + STALL_POSTS,
        delivered=sum(c.delivered for c in checks),
        lost=sum(c.lost for c in checks),
        duplicated=sum(c.duplicated for c in checks),
        extra={
            "p50_ms_without_stall": ms(baseline, 0.5),
            "p99_ms_without_stall": ms(baseline, 0.99),
            "p50_ms_with_stall": ms(stalled_phase, 0.5),
            "p99_ms_with_stall": ms(stalled_phase, 0.99),
            "rss_kib_before": rss[0],
            "rss_kib_after": rss[1],
            "stalled_got_4008": [CLOSE_4008 in b for b in backlog],
            "frames_buffered_for_stalled": frames_to_stalled,
            "backlog_bytes_per_stalled": [len(b) for b in backlog],
        },
    )
    figures.report()

    for check in checks:
        assert check.lost == 0, figures
        assert check.duplicated == 0, figures
        assert check.in_order, figures
    assert percentile(stalled_phase, 0.99) < LATENCY_BOUND_SECONDS, figures
    # What the hub cannot promise under daphne: a stalled socket is closed (4008) only if its queue
    # fills, and daphne takes every frame off that queue at once. Either way it ends with every event
    # or with 4008.
    for count, data in zip(frames_to_stalled, backlog, strict=True):
        assert count == STALL_POSTS or CLOSE_4008 in data, figures


async def phases(
    hub: HubProcess, token: str, start: int, stalled: list[socket.socket]
) -> tuple[list[float], list[float], list[Subscriber], int, tuple[int, int]]:
    subscribers = [Subscriber(f"healthy{i}", [hub.ws_base], token, after=start) for i in range(HEALTHY)]
    tasks = await run_subscribers(subscribers)
    # Phase one: nobody stalls.
    first_posts, first_wamids = posts(BASELINE_POSTS)
    first = WebhookSender([hub.base], concurrency=4, interval=0.02)
    await first.send_all(first_posts)
    await drain_to(subscribers)
    rss_before = hub.rss_kib()
    # Phase two: stalled sockets whose buffers fill at once, so that further frames queue in the server.
    for _ in range(STALLED):
        stalled.append(await asyncio.to_thread(stalled_socket, hub, token))
    second_posts, second_wamids = posts(STALL_POSTS)
    second = WebhookSender([hub.base], concurrency=4, interval=0.02)
    await second.send_all(second_posts)
    end = await drain_to(subscribers)
    rss_after = hub.rss_kib()
    await stop_subscribers(subscribers, tasks)
    baseline = latencies(subscribers, first, first_wamids)
    with_stall = latencies(subscribers, second, second_wamids)
    return baseline, with_stall, subscribers, end, (rss_before, rss_after)


def test_stalled_consumers_under_uvicorn_are_closed_4008_others_on_time_memory_bounded(
    start_hub: StartHub,
) -> None:
    token = make_token("slow-uvicorn")
    start = last_seq()
    hub = start_hub("slowu", server="uvicorn", env=PRODUCTION_ENV)
    stalled: list[socket.socket] = []
    try:
        run = asyncio.run(uvicorn_phases(hub, token, start, stalled))
        # What each stalled socket was sent before the server gave up on it: a prefix, then 4008.
        backlog = asyncio.run(read_all(stalled))
    finally:
        for sock in stalled:
            sock.close()
        hub.stop()
    checks = [check_stream(s.seqs, start, run.end) for s in run.subscribers]
    frames = [server_frames(data) for data in backlog]
    codes = [close_code(f) for f in frames]
    seqs = [text_seqs(f) for f in frames]
    stall_events = run.end - run.stall_start
    # What buffering every frame for every stalled socket would have cost (daphne's way).
    frame_bytes = sum(len(data) for data in backlog) // max(1, sum(len(s) for s in seqs))
    unbounded_kib = UVICORN_STALLED * stall_events * frame_bytes // 1024
    rss_growth = run.rss_peak - run.rss_before
    figures = Figures(
        "slow and dead consumers (uvicorn)",
        sent=run.end - start,
        delivered=sum(c.delivered for c in checks),
        lost=sum(c.lost for c in checks),
        duplicated=sum(c.duplicated for c in checks),
        extra={
            "closed_with_4008": codes.count(4008),
            "stalled": UVICORN_STALLED,
            "frames_before_4008": sorted({len(s) for s in seqs}),
            "stall_events": stall_events,
            "open_sockets_while_stalled": run.open_while_stalled,
            "p50_ms_without_stall": ms(run.baseline, 0.5),
            "p99_ms_without_stall": ms(run.baseline, 0.99),
            "p50_ms_with_stall": ms(run.with_stall, 0.5),
            "p99_ms_with_stall": ms(run.with_stall, 0.99),
            "max_ms_with_stall": ms(run.with_stall, 1.0),
            "rss_kib_before": run.rss_before,
            "rss_kib_peak": run.rss_peak,
            "rss_kib_growth": rss_growth,
            "unbounded_kib_would_be": unbounded_kib,
        },
    )
    figures.report()

    for check in checks:
        assert check.lost == 0, figures
        assert check.duplicated == 0, figures
        assert check.in_order, figures
    assert percentile(run.with_stall, 0.99) < LATENCY_BOUND_SECONDS, figures
    # Every stalled socket got a gap-free, in-order prefix of the stream, fell behind, and was closed 4008.
    assert codes == [4008] * UVICORN_STALLED, figures
    for got in seqs:
        assert got == list(range(run.stall_start + 1, run.stall_start + 1 + len(got))), figures
        assert len(got) < stall_events, figures
    # Bounded: the stalled sockets cost a bounded amount, far below their share of the stream.
    assert unbounded_kib > 3 * RSS_BOUND_KIB, figures
    assert rss_growth < RSS_BOUND_KIB, figures


class UvicornRun:
    """What the uvicorn scenario measured while the stalled sockets were still stalled."""

    def __init__(self, subscribers: list[Subscriber], stall_start: int, end: int) -> None:
        self.subscribers = subscribers
        self.stall_start = stall_start
        self.end = end
        self.baseline: list[float] = []
        self.with_stall: list[float] = []
        self.rss_before = 0
        self.rss_peak = 0
        self.open_while_stalled = 0.0


async def uvicorn_phases(hub: HubProcess, token: str, start: int, stalled: list[socket.socket]) -> UvicornRun:
    subscribers = [Subscriber(f"healthy{i}", [hub.ws_base], token, after=start) for i in range(HEALTHY)]
    tasks = await run_subscribers(subscribers)
    # Phase one: nobody stalls.
    first_posts, first_wamids = posts(UVICORN_BASELINE_POSTS, MESSAGES_PER_POST)
    first = WebhookSender([hub.base], concurrency=4)
    await first.send_all(first_posts)
    stall_start = await drain_to(subscribers)
    rss_before = hub.rss_kib()
    # Phase two: the stalled sockets see every event from `stall_start` on, and read none of them.
    for _ in range(UVICORN_STALLED):
        stalled.append(await asyncio.to_thread(stalled_socket, hub, token))
    second_posts, second_wamids = posts(UVICORN_STALL_POSTS, MESSAGES_PER_POST)
    second = WebhookSender([hub.base], concurrency=4)
    load = asyncio.create_task(second.send_all(second_posts))
    rss_peak = rss_before
    while not load.done():
        rss_peak = max(rss_peak, hub.rss_kib())
        await asyncio.sleep(0.25)
    await load
    end = await drain_to(subscribers)
    run = UvicornRun(subscribers, stall_start, end)
    run.rss_before = rss_before
    run.rss_peak = max(rss_peak, hub.rss_kib())
    run.open_while_stalled = await asyncio.to_thread(hub.metric, "hub_open_sockets", token)
    await stop_subscribers(subscribers, tasks)
    run.baseline = latencies(subscribers, first, first_wamids)
    run.with_stall = latencies(subscribers, second, second_wamids)
    return run


async def read_all(stalled: list[socket.socket]) -> list[bytes]:
    return list(await asyncio.gather(*(asyncio.to_thread(read_everything, s, 30.0) for s in stalled)))
