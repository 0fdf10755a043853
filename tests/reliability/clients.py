"""Clients the reliability scenarios drive the hub with: Meta-like webhook senders, WebSocket subscribers.

Both behave as their real counterparts do under faults: the sender retries anything but a 200 (Meta
retries for days) and moves to another server when one stops answering (a load balancer); the subscriber
reconnects with jittered backoff, to the next server if its own is gone, with `?after=` its last seq.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from store.eventlog import last_seq
from tests.support import signed_headers

WEBHOOK = "/api/whatsapp/webhook/"
INBOX = "/ws/whatsapp/inbox/"

# Every figure printed by a scenario; tests/reliability/conftest.py repeats them in pytest's summary.
REPORTED: list[str] = []


@dataclass
class Figures:
    """What a scenario sent, stored and delivered, printed at its end and kept in assertion messages."""

    scenario: str
    sent: int = 0
    stored: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [
            f"sent={self.sent}",
            f"stored={self.stored}",
            f"delivered={self.delivered}",
            f"lost={self.lost}",
            f"duplicated={self.duplicated}",
        ]
        parts += [f"{key}={value}" for key, value in self.extra.items()]
        return f"[{self.scenario}] " + " ".join(parts)

    def report(self) -> None:
        print(self)
        REPORTED.append(str(self))


def db_last_seq() -> int:
    """The log's newest seq, read from a worker thread (which then hands its connection back)."""
    try:
        return last_seq()
    finally:
        connection.close()


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class SendStats:
    """Every answer the senders got, attempts included."""

    answers: Counter[str] = field(default_factory=Counter)
    by_server: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acknowledged: int = 0
    attempts: int = 0
    given_up: list[bytes] = field(default_factory=list)
    # The last answer each body got, and when (seconds since the sender started) and how fast.
    outcomes: dict[bytes, tuple[str, float, float]] = field(default_factory=dict)

    @property
    def retried(self) -> int:
        return self.attempts - self.acknowledged - len(self.given_up)


class WebhookSender:
    """Posts signed bodies from `concurrency` senders, retrying as Meta does until each gets a 200."""

    def __init__(
        self,
        bases: Sequence[str],
        *,
        concurrency: int = 8,
        interval: float = 0.0,
        retry_for: float = 60.0,
        timeout: float = 30.0,
    ) -> None:
        self.bases = list(bases)
        self.concurrency = concurrency
        self.interval = interval
        self.retry_for = retry_for
        self.timeout = timeout
        self.stats = SendStats()
        self.sent = 0
        self._turn = itertools.count()
        self.origin = time.monotonic()

    async def send_all(self, bodies: Sequence[bytes]) -> SendStats:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            await asyncio.gather(*(self._sender(client, queue) for _ in range(self.concurrency)))
        return self.stats

    async def _sender(self, client: httpx.AsyncClient, queue: asyncio.Queue[bytes]) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            await self.deliver(client, body)
            self.sent += 1
            if self.interval:
                await asyncio.sleep(self.interval)

    async def deliver(self, client: httpx.AsyncClient, body: bytes) -> None:
        deadline = time.monotonic() + self.retry_for
        backoff = 0.1
        while True:
            base = self.bases[next(self._turn) % len(self.bases)]
            started = time.monotonic()
            self.stats.attempts += 1
            try:
                response = await client.post(base + WEBHOOK, content=body, headers=signed_headers(body))
                answer = str(response.status_code)
            except httpx.HTTPError as error:
                answer = type(error).__name__
            took = time.monotonic() - started
            self.stats.answers[answer] += 1
            self.stats.by_server[(base, answer)] += 1
            self.stats.latencies.append(took)
            self.stats.outcomes[body] = (answer, started - self.origin, took)
            if answer == "200":
                self.stats.acknowledged += 1
                return
            if time.monotonic() > deadline:
                self.stats.given_up.append(body)
                return
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 2.0)


@dataclass
class Received:
    seq: int
    type: str
    message_id: str | None
    at: float


class Subscriber:
    """A WebSocket client that keeps every frame and reconnects with `after`, failing over between servers."""

    def __init__(
        self,
        name: str,
        ws_bases: Sequence[str],
        token: str,
        *,
        after: int,
        path: str = INBOX,
        max_backoff: float = 1.0,
    ) -> None:
        self.name = name
        self.ws_bases = list(ws_bases)
        self.token = token
        self.path = path
        self.last_seq = after
        self.max_backoff = max_backoff
        self.frames: list[Received] = []
        self.connects = 0
        self.close_codes: list[int | None] = []
        self.other_frames: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self._stopping = False
        self._socket: ClientConnection | None = None
        self._base_index = 0

    def move_to(self, index: int) -> None:
        self._base_index = index % len(self.ws_bases)

    async def run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            url = f"{self.ws_bases[self._base_index]}{self.path}?after={self.last_seq}"
            try:
                async with connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=10,
                    max_queue=None,
                ) as socket:
                    self._socket = socket
                    self.connects += 1
                    self.connected.set()
                    backoff = 0.05
                    async for text in socket:
                        self._keep(json.loads(text))
            except ConnectionClosed as closed:
                self.close_codes.append(closed.rcvd.code if closed.rcvd else None)
            except (OSError, InvalidHandshake, TimeoutError):
                self.close_codes.append(None)
            else:
                # The server closed cleanly (the iterator ends on 1000/1001).
                self.close_codes.append(1000)
            finally:
                self._socket = None
                self.connected.clear()
            if self._stopping:
                return
            # The server went away: jittered backoff, then the next server in the list.
            await asyncio.sleep(random.uniform(0, backoff))
            backoff = min(backoff * 2, self.max_backoff)
            self._base_index = (self._base_index + 1) % len(self.ws_bases)

    def _keep(self, frame: dict[str, Any]) -> None:
        seq = frame.get("seq")
        if not isinstance(seq, int):
            self.other_frames.append(frame)
            return
        message = frame.get("message") or {}
        self.frames.append(Received(seq, str(frame["type"]), message.get("message_id"), time.monotonic()))
        self.last_seq = max(self.last_seq, seq)

    async def stop(self) -> None:
        self._stopping = True
        if self._socket is not None:
            await self._socket.close()

    @property
    def seqs(self) -> list[int]:
        return [f.seq for f in self.frames]


@dataclass(frozen=True)
class StreamCheck:
    """How one subscriber's frames compare with the log's seqs `start+1 .. end`."""

    delivered: int
    lost: int
    duplicated: int
    in_order: bool


def check_stream(seqs: Sequence[int], start: int, end: int) -> StreamCheck:
    expected = set(range(start + 1, end + 1))
    seen = Counter(seqs)
    return StreamCheck(
        delivered=len(seqs),
        lost=len(expected - set(seen)),
        duplicated=sum(n - 1 for n in seen.values() if n > 1),
        in_order=list(seqs) == sorted(set(seqs)),
    )


async def wait_until(predicate: Callable[[], bool], within: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


async def run_subscribers(subscribers: Sequence[Subscriber]) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(s.run(), name=s.name) for s in subscribers]
    for subscriber in subscribers:
        await asyncio.wait_for(subscriber.connected.wait(), 30)
    return tasks


async def stop_subscribers(subscribers: Sequence[Subscriber], tasks: Sequence[asyncio.Task[None]]) -> None:
    for subscriber in subscribers:
        await subscriber.stop()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)


async def drain_to(subscribers: Sequence[Subscriber], within: float = 60.0) -> int:
    """Wait until every subscriber has seen the log's newest seq; returns that seq."""
    end = await asyncio.to_thread(db_last_seq)
    await wait_until(lambda: all(s.last_seq >= end for s in subscribers), within)
    # Anything still on its way would show up as a duplicate or a frame past `end`.
    await asyncio.sleep(0.5)
    return end
