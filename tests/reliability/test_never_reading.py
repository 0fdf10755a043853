"""Scenario 5, continued: under uvicorn, a client that stops reading and never reads again is let go.

Once a stalled socket's queue overflows, the fan-out gives up the write the socket is blocked in and sends
the 4008 close from a task of its own. Under `--ws websockets` the close frame then waits behind the full
buffer: websockets waits its close timeout for the client's close frame, then for the TCP close, and aborts
the connection. The stalled clients here never read a byte after the handshake, yet the server process
lets go of their sockets and its open-socket gauge falls back to the healthy clients alone, who get every
event once, in order. The kernel may keep an aborted socket as an orphan (FIN_WAIT1, its unsent buffer
with it) while the client neither reads nor goes away: the figures print both ends' TCP states.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from store.eventlog import last_seq
from tests.realtime.helpers import make_token
from tests.reliability.clients import (
    Figures,
    Subscriber,
    WebhookSender,
    check_stream,
    drain_to,
    run_subscribers,
    stop_subscribers,
)
from tests.reliability.cluster import HubProcess, StartHub
from tests.reliability.test_slow_consumers import (
    HEALTHY,
    MESSAGES_PER_POST,
    PRODUCTION_ENV,
    UVICORN_STALL_POSTS,
    posts,
    stalled_socket,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

STALLED = 5
# websockets' close timeout is 10 s, waited once for the close frame and once for the TCP close.
LET_GO_WITHIN_SECONDS = 90.0
POLL_SECONDS = 0.5
FELL_BEHIND = "closing a socket that fell"
CLOSE_FAILED = "closing a socket failed"
# The kernel's TCP states (include/net/tcp_states.h), as /proc/net/tcp prints them and `struct tcp_info`
# holds them in its first byte.
TCP_STATES = {1: "ESTABLISHED", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 7: "CLOSE", 8: "CLOSE_WAIT"}


def client_state(sock: socket.socket) -> str:
    """The kernel's state of the client's end of the connection, read without reading any data."""
    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    return TCP_STATES.get(state, str(state))


def server_end(hub: HubProcess, sock: socket.socket) -> tuple[str, bool]:
    """The server's end of `sock`'s connection: its TCP state, and whether the server process holds it.

    A socket no process holds (inode 0 in /proc/net/tcp) is an orphan the kernel alone still keeps.
    """
    local = f"0100007F:{hub.port:04X}"
    remote = f"0100007F:{sock.getsockname()[1]:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            state = int(fields[3], 16)
            return TCP_STATES.get(state, str(state)), fields[9] != "0"
    return "gone", False


def server_log(hub: HubProcess) -> str:
    """The server's output so far, read without moving the file offset the server writes at."""
    fd = hub.log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


class NeverReadingRun:
    """What the scenario saw: the healthy clients, the log's seqs, and when the gauge moved."""

    def __init__(self, subscribers: list[Subscriber], start: int) -> None:
        self.subscribers = subscribers
        self.start = start
        self.end = start
        self.open_with_stalled = 0.0
        # (seconds since the first post, open sockets) at each change of the gauge.
        self.gauge: list[tuple[float, float]] = []
        self.posted_at = 0.0
        self.fell_behind_at: float | None = None
        self.let_go_at: float | None = None
        # Each stalled socket's server end (state, held by the server process) and client state, once
        # the gauge fell back.
        self.server_ends: list[tuple[str, bool]] = []
        self.client_states: list[str] = []


def test_never_reading_clients_under_uvicorn_are_let_go_and_others_get_every_event(
    start_hub: StartHub,
) -> None:
    token = make_token("never-reading")
    start = last_seq()
    hub = start_hub("neverread", server="uvicorn", env=PRODUCTION_ENV)
    stalled: list[socket.socket] = []
    try:
        run = asyncio.run(never_reading_phases(hub, token, start, stalled))
    finally:
        for sock in stalled:
            sock.close()
        hub.stop()
    output = hub.output()
    checks = [check_stream(s.seqs, run.start, run.end) for s in run.subscribers]
    let_go_after = (
        round(run.let_go_at - run.fell_behind_at, 1)
        if run.let_go_at is not None and run.fell_behind_at is not None
        else None
    )
    figures = Figures(
        "never-reading consumers (uvicorn)",
        sent=run.end - run.start,
        delivered=sum(c.delivered for c in checks),
        lost=sum(c.lost for c in checks),
        duplicated=sum(c.duplicated for c in checks),
        extra={
            "healthy": HEALTHY,
            "stalled": STALLED,
            "fell_behind": output.count(FELL_BEHIND),
            "open_sockets_with_stalled": run.open_with_stalled,
            "open_sockets_timeline": run.gauge,
            "posting_took_s": round(run.posted_at, 1),
            "last_fell_behind_at_s": run.fell_behind_at,
            "stalled_let_go_at_s": run.let_go_at,
            "stalled_let_go_after_s": let_go_after,
            "stalled_server_ends": run.server_ends,
            "stalled_client_states": run.client_states,
            "close_failures_logged": output.count(CLOSE_FAILED),
            "healthy_connects": [s.connects for s in run.subscribers],
        },
    )
    figures.report()

    for check in checks:
        assert check.lost == 0, figures
        assert check.duplicated == 0, figures
        assert check.in_order, figures
    assert [s.connects for s in run.subscribers] == [1] * HEALTHY, figures
    assert run.open_with_stalled == HEALTHY + STALLED, figures
    # Every stalled socket fell behind, and without reading a byte was let go by the server.
    assert output.count(FELL_BEHIND) == STALLED, figures
    assert run.let_go_at is not None, figures
    assert not any(held for _, held in run.server_ends), figures


async def never_reading_phases(
    hub: HubProcess, token: str, start: int, stalled: list[socket.socket]
) -> NeverReadingRun:
    subscribers = [Subscriber(f"healthy{i}", [hub.ws_base], token, after=start) for i in range(HEALTHY)]
    tasks = await run_subscribers(subscribers)
    run = NeverReadingRun(subscribers, start)
    for _ in range(STALLED):
        stalled.append(await asyncio.to_thread(stalled_socket, hub, token))
    run.open_with_stalled = await asyncio.to_thread(hub.metric, "hub_open_sockets", token)
    # Far more than a stalled socket's queue (1,000 events) and the kernel's buffers hold.
    bodies, _ = posts(UVICORN_STALL_POSTS, MESSAGES_PER_POST)
    sender = WebhookSender([hub.base], concurrency=4)
    began = time.monotonic()
    load = asyncio.create_task(sender.send_all(bodies))
    while True:
        await asyncio.sleep(POLL_SECONDS)
        now = round(time.monotonic() - began, 1)
        open_sockets = await asyncio.to_thread(hub.metric, "hub_open_sockets", token)
        if not run.gauge or run.gauge[-1][1] != open_sockets:
            run.gauge.append((now, open_sockets))
        if run.fell_behind_at is None and server_log(hub).count(FELL_BEHIND) >= STALLED:
            run.fell_behind_at = now
        if not load.done():
            continue
        run.posted_at = run.posted_at or now
        if open_sockets == HEALTHY and run.fell_behind_at is not None:
            run.let_go_at = run.gauge[-1][0]
            break
        if now > run.posted_at + LET_GO_WITHIN_SECONDS:
            break
    await load
    run.server_ends = [server_end(hub, sock) for sock in stalled]
    run.client_states = [client_state(sock) for sock in stalled]
    run.end = await drain_to(subscribers)
    await stop_subscribers(subscribers, tasks)
    return run
