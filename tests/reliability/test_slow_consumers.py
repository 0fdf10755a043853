"""Scenario 5: clients that stop reading must not delay the others, and the server's memory is measured.

A stalled client here is a real TCP connection that completes the WebSocket handshake with a small receive
buffer and then never reads. Daphne (Twisted) buffers writes to it without backpressure, so the hub's
per-socket queue (1,000 events, then close 4008) never fills: what is guaranteed is the other clients'
latency and completeness; the stalled socket's backlog lives in the server's memory until it goes away.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
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
from tests.reliability.cluster import HubProcess
from webhook import samples

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HEALTHY, STALLED = 4, 3
BASELINE_POSTS, STALL_POSTS = 100, 300
TEXT = "x" * 4000
LATENCY_BOUND_SECONDS = 2.0
CLOSE_4008 = b"\x88\x02\x0f\xa8"


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


def posts(count: int) -> tuple[list[bytes], dict[str, bytes]]:
    now = int(time.time())
    by_wamid = {}
    for index in range(count):
        wamid = f"wamid.slow.{uuid.uuid4().hex}"
        value = samples.text_message(wamid, f"1555750{index % 10:04d}", TEXT, now)
        by_wamid[wamid] = samples.encode(samples.envelope([value]))
    return list(by_wamid.values()), by_wamid


def latencies(
    subscribers: list[Subscriber], sender: WebhookSender, by_wamid: dict[str, bytes]
) -> list[float]:
    found = []
    for subscriber in subscribers:
        for frame in subscriber.frames:
            body = by_wamid.get(frame.message_id or "")
            if body is not None and frame.type == "message.created":
                found.append(frame.at - (sender.origin + sender.stats.outcomes[body][1]))
    return found


def test_stalled_consumers_do_not_delay_others_and_their_backlog_is_measured() -> None:
    token = make_token("slow")
    start = last_seq()
    hub = HubProcess("slow").start()
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
        "slow and dead consumers",
        sent=BASELINE_POSTS + STALL_POSTS,
        delivered=sum(c.delivered for c in checks),
        lost=sum(c.lost for c in checks),
        duplicated=sum(c.duplicated for c in checks),
        extra={
            "p50_ms_without_stall": round(percentile(baseline, 0.5) * 1000),
            "p99_ms_without_stall": round(percentile(baseline, 0.99) * 1000),
            "p50_ms_with_stall": round(percentile(stalled_phase, 0.5) * 1000),
            "p99_ms_with_stall": round(percentile(stalled_phase, 0.99) * 1000),
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
    # What the hub cannot promise: a stalled socket is closed (4008) only if its queue fills, and daphne
    # takes every frame off that queue at once. Either way it ends with every event or with 4008.
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
