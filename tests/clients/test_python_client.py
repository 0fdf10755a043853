"""The Python client (clients/python/) against real hub processes, under daphne and under uvicorn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from whatsapp_hub_client import HubClient, HubClosed, HubRequestError

from tests.clients.harness import SERVERS, ClientWorld, in_db
from tests.realtime.helpers import ALICE, BUSINESS, make_agent_token
from tests.reliability.clients import INBOX
from tests.reliability.cluster import Server

# `django_db` makes pytest-django create the test database the hub processes serve; the events the tests
# record are committed from worker threads (tests/clients/harness.py), outside the test's transaction.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db,
    pytest.mark.asyncio,
]

# Fast enough for tests; production defaults are 10 s + 10 s (a dead socket is noticed within 20 s).
PING_INTERVAL, PONG_TIMEOUT = 0.5, 0.5
# Uvicorn's --ws-ping-interval and --ws-ping-timeout (20 s each, its defaults, as the README runs it).
UVICORN_KEEPALIVE_SECONDS = 40
# How the hub ends a socket that stopped reading: its keepalive (1011), or the close frame lost behind
# the unread bytes when the server aborts the connection (1006); 4008 when its queue overflowed first.
HUB_CLOSES = (1011, 1006, 4008)


class Recorder:
    """A client whose events are kept, with every state it went through."""

    def __init__(self, url: str, token: str, **options: Any) -> None:
        self.states: list[tuple[str, dict[str, Any]]] = []
        self.resyncs = 0
        options.setdefault("ping_interval", PING_INTERVAL)
        options.setdefault("pong_timeout", PONG_TIMEOUT)
        self.client = HubClient(
            url,
            token=token,
            on_state=lambda state, detail: self.states.append((state, dict(detail))),
            on_resync=self._resync,
            backoff_initial=0.05,
            backoff_max=0.5,
            **options,
        )
        self.seqs: list[int] = []
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    def _resync(self, frame: dict[str, Any]) -> None:
        self.resyncs += 1

    async def run(self, after: int | None = None) -> None:
        try:
            async for event in self.client.events(after=after):
                self.seqs.append(event["seq"])
        except HubClosed as closed:
            self.error = closed

    def start(self, after: int | None = None) -> Recorder:
        self.task = asyncio.create_task(self.run(after))
        return self

    def count(self, state: str, **match: Any) -> int:
        return sum(1 for s, d in self.states if s == state and all(d.get(k) == v for k, v in match.items()))

    async def opened(self, times: int = 1) -> None:
        await until(lambda: self.count("open") >= times, 30)

    async def reached(self, seq: int, within: float = 30) -> None:
        await until(lambda: self.client.seq is not None and self.client.seq >= seq, within)

    async def close(self) -> None:
        await self.client.close()
        if self.task is not None:
            await self.task


async def until(predicate: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s")
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def recorder(world: ClientWorld) -> AsyncIterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(server: Server, token: str | None = None, **options: Any) -> Recorder:
        made.append(Recorder(world.ws_url(server), token or world.token, **options))
        return made[-1]

    yield make
    for each in made:
        await each.close()


@pytest.mark.parametrize("server", SERVERS)
async def test_restart_mid_stream_loses_and_duplicates_nothing(world, recorder, server: Server) -> None:
    hub = recorder(server).start()
    await hub.opened()
    start = await asyncio.to_thread(world.last_seq)
    end = await asyncio.to_thread(world.restart, server, 15)
    await hub.reached(end)
    received = [s for s in hub.seqs if s > start]
    assert received == list(range(start + 1, end + 1))
    assert hub.count("reconnecting", code=4012) >= 1, hub.states
    # Each reconnect asked for what followed the last seq seen.
    resumed = [d["after"] for s, d in hub.states if s == "connecting"][1:]
    assert resumed, hub.states
    assert all(after is not None and after >= start for after in resumed), hub.states


@pytest.mark.parametrize("server", SERVERS)
async def test_sigkill_without_close_frame_is_noticed_by_keepalive_and_resumes_with_after(
    world, recorder, server: Server
) -> None:
    hub = recorder(server).start()
    await hub.opened()
    before = await asyncio.to_thread(world.record, 3)
    await hub.reached(before)
    await asyncio.to_thread(world.freeze, server)
    frozen_at = time.monotonic()
    await until(lambda: hub.count("reconnecting", code=4000) >= 1, 10)
    noticed = time.monotonic() - frozen_at
    # While it is gone, events go on being logged.
    missed = await asyncio.to_thread(world.record, 5)
    await asyncio.to_thread(world.kill_frozen, server)
    await hub.reached(missed)
    # Within one ping period and one pong timeout, with room for a loaded machine.
    assert noticed <= PING_INTERVAL + PONG_TIMEOUT + 3.0, noticed
    assert [s for s in hub.seqs if s > before] == list(range(before + 1, missed + 1))
    assert any(s == "connecting" and d["after"] == before for s, d in hub.states), hub.states


async def test_reader_that_stops_is_closed_by_the_hub_comes_back_and_catches_up(world: ClientWorld) -> None:
    """Under uvicorn, whose keepalive closes a socket that stopped reading; daphne never closes one.

    The reader stops reading (tests/clients/slow_link.py: its TCP link stops taking bytes) while events
    go on. Uvicorn pings every 20 s and closes a socket with no pong 20 s later (1011), before its
    queue of 1,000 events overflows into 4008 unless events come faster than a few hundred a second:
    7,750 events of 4.5 KB in 37 s behind a paused link did not overflow it. 4008 itself is proved
    against uvicorn with raw sockets (tests/reliability/test_slow_consumers.py). Daphne buffers every
    frame in Twisted and pings nobody, so it never closes such a reader (docs/reliability.md, known
    limit 4). Either way the client comes back with `after` and misses nothing. The client's keepalive
    is slowed here: it would take the silent link for a dead server and reconnect first.
    """
    link = world.slow_link("uvicorn")
    hub = Recorder(link.url_for(INBOX), world.token, ping_interval=120.0, pong_timeout=10.0).start()
    try:
        await hub.opened()
        start = await asyncio.to_thread(world.record, 1)
        await hub.reached(start)
        link.pause()
        end = await asyncio.to_thread(world.record_for, UVICORN_KEEPALIVE_SECONDS + 5)
        link.resume()
        await hub.reached(end, within=60)
    finally:
        await hub.close()
    closes = [d["code"] for s, d in hub.states if s == "reconnecting"]
    assert len(closes) == 1, hub.states
    assert closes[0] in HUB_CLOSES, hub.states
    assert [s for s in hub.seqs if s > start] == list(range(start + 1, end + 1))
    resumed = [d["after"] for s, d in hub.states if s == "connecting"][1:]
    assert len(resumed) == 1, resumed
    assert start <= resumed[0] < end, resumed


@pytest.mark.parametrize("server", SERVERS)
async def test_after_older_than_the_retained_log_calls_on_resync_then_streams(
    world, recorder, server: Server
) -> None:
    first = await asyncio.to_thread(world.record, 3) - 2
    await asyncio.to_thread(world.prune)
    hub = recorder(server).start(after=first - 1)
    await until(lambda: hub.resyncs == 1, 20)
    live = await asyncio.to_thread(world.record, 1)
    await hub.reached(live)
    assert hub.seqs == [live]


@pytest.mark.parametrize("server", SERVERS)
async def test_bad_token_4401_stops_without_retry(world, recorder, server: Server) -> None:
    hub = recorder(server, token="hub_not-a-token").start()
    await hub.task
    assert isinstance(hub.error, HubClosed)
    assert hub.error.code == 4401
    await asyncio.sleep(0.3)  # many backoff periods
    assert hub.count("connecting") == 1, hub.states
    assert hub.client.state == "stopped"
    with pytest.raises(HubRequestError) as refused:
        await hub.client.send({"type": "ping"})
    assert refused.value.code == "closed"


@pytest.mark.parametrize("server", SERVERS)
async def test_two_sends_in_flight_each_settle_with_their_own_answer(world, recorder, server: Server) -> None:
    await asyncio.to_thread(world.record, 1, customer=ALICE)  # an open 24-hour window
    hub = recorder(server).start()
    await hub.opened()
    answers: tuple[Any, ...] = await asyncio.gather(
        hub.client.send_message(ALICE, business=BUSINESS, text="first of two"),
        hub.client.send_message(ALICE, business=BUSINESS, text="second of two"),
        hub.client.send({"type": "send", "to": ALICE, "business": BUSINESS}),
        hub.client.mark_read(phone_number=ALICE, business=BUSINESS),
        return_exceptions=True,
    )
    one, two, bad, marked = answers
    assert isinstance(one, dict), one
    assert one["text_body"] == "first of two"
    assert isinstance(two, dict), two
    assert two["text_body"] == "second of two"
    assert isinstance(bad, HubRequestError), bad
    assert bad.code == "invalid_body"
    assert isinstance(marked, dict), marked
    assert marked["type"] == "mark_read.ok"


@pytest.mark.parametrize("server", SERVERS)
async def test_presence_of_one_agent_reaches_another_through_on_frame(world, server: Server) -> None:
    await asyncio.to_thread(world.record, 1, customer=ALICE)
    tokens = [await asyncio.to_thread(in_db, lambda n=name: make_agent_token(n)) for name in ("ann", "ben")]
    heard: list[dict[str, Any]] = []
    url = world.ws_url(server, f"{INBOX}?presence=1")
    ann = HubClient(url, token=tokens[0], ping_interval=PING_INTERVAL, pong_timeout=PONG_TIMEOUT)
    ben = HubClient(url, token=tokens[1], on_frame=heard.append)
    try:
        ann.start()
        ben.start()
        await until(lambda: ann.state == ben.state == "open", 30)
        answer = await ann.presence("typing", conversation=ALICE, business=BUSINESS)
        assert answer["type"] == "presence.ok"

        def typing() -> bool:
            return any(f["type"] == "presence" and f.get("typing") == ["ann"] for f in heard)

        def ann_online() -> bool:
            return any(f["type"] == "agents" and "ann" in f["online"] for f in heard)

        await until(typing, 10)
        # The online list is sent at most once per presence sweep (a second), so it may follow the typing.
        await until(ann_online, 10)
    finally:
        await ann.close()
        await ben.close()
