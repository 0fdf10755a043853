"""This process's one membership of the `inbox` group and the ordered, gap-free dispatch to its sockets.

Each server process joins `inbox` once, with one channel, and writes every event's pre-encoded text to
each local socket that may see it (realtime/delivery.py): one layer message, no JSON work and no task
wake-up per socket. Events are dispatched strictly in seq order: ones that arrive early wait for the missing
ones, which are read from the HubEvent log if they do not come (a lost broadcast, a Redis outage); and
while sockets are connected the log's high-water seq is polled, so news lost entirely still arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer

from realtime.delivery import Subscriber, text_message
from realtime.replay import db_call, list_wire_events
from store.auth import TokenScope
from store.eventlog import last_seq
from store.publish import BATCH_MESSAGE_TYPE, INBOX_GROUP, WireEvent

logger = logging.getLogger(__name__)

# How long an early event waits for the ones before it before they are read from the log.
GAP_GRACE_SECONDS = 0.1
POLL_SECONDS = 1.0
# Joining again refreshes the membership before the layer's group_expiry ends it.
REJOIN_SECONDS = 60.0
LAYER_TIMEOUT_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 5.0
FILL_BATCH = 500
INCOMING_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Subscription:
    """What one socket wants: every event its scope allows (inbox) or one conversation's."""

    scope: TokenScope
    conversation_id: int | None = None

    @property
    def sees_team_events(self) -> bool:
        """Internal notes are for the team: never for a credential scoped to customers."""
        return not self.scope.customers

    def matches(self, event: WireEvent) -> bool:
        if event["team_only"] and not self.sees_team_events:
            return False
        if self.conversation_id is not None:
            return event["conversation_id"] == self.conversation_id
        return self.scope.unrestricted or self.scope.allows(event["business"], event["customers"])


class Fanout:
    """The fan-out of one event loop (one server process); start it with `subscribe`."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.joined = False
        # Every seq up to the watermark has been dispatched (or was not there to dispatch).
        self.watermark = 0
        self._inbox: set[Subscriber] = set()
        self._by_conversation: dict[int, set[Subscriber]] = {}
        self._pending: dict[int, WireEvent] = {}
        self._gap_since: float | None = None
        self._incoming: asyncio.Queue[list[WireEvent]] = asyncio.Queue(INCOMING_LIMIT)
        self._start_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._previous_latest = 0
        self._next_poll = 0.0
        self._next_rejoin = 0.0

    @property
    def subscriber_count(self) -> int:
        return len(self._inbox) + sum(len(s) for s in self._by_conversation.values())

    async def subscribe(self, subscriber: Subscriber) -> None:
        """Register a socket; from now on it receives every matching event above the watermark."""
        await self._ensure_started()
        if not self.subscriber_count:
            # Nobody listened, so gaps were skipped: start again from the log's head.
            latest = await db_call(last_seq)
            if not self.subscriber_count:
                self._skip_to(latest)
        if subscriber.subscription.conversation_id is None:
            self._inbox.add(subscriber)
        else:
            self._by_conversation.setdefault(subscriber.subscription.conversation_id, set()).add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a socket (called when it disconnects or overflows); idempotent."""
        conversation_id = subscriber.subscription.conversation_id
        if conversation_id is None:
            self._inbox.discard(subscriber)
            return
        members = self._by_conversation.get(conversation_id)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self._by_conversation[conversation_id]

    async def aclose(self) -> None:
        """Stop the tasks and leave the group (tests; a server process just exits)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.joined and self.channel is not None:
            try:
                await asyncio.wait_for(
                    self.layer.group_discard(INBOX_GROUP, self.channel), LAYER_TIMEOUT_SECONDS
                )
            except Exception:
                logger.warning("leaving %s failed", INBOX_GROUP, exc_info=True)
        self.joined = False

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if self._tasks and not any(task.done() for task in self._tasks):
                return
            for task in self._tasks:
                task.cancel()
            if not self._tasks:
                self.watermark = await db_call(last_seq)
                self._previous_latest = self.watermark
            self._tasks = [asyncio.create_task(self._dispatch_loop(), name="fanout-dispatch")]
            if self.layer is not None:
                self._tasks.append(asyncio.create_task(self._receive_loop(), name="fanout-receive"))

    async def _join(self) -> None:
        if self.channel is None:
            self.channel = await self.layer.new_channel()
        await asyncio.wait_for(self.layer.group_add(INBOX_GROUP, self.channel), LAYER_TIMEOUT_SECONDS)
        self.joined = True
        self._next_rejoin = time.monotonic() + REJOIN_SECONDS

    async def _receive_loop(self) -> None:
        """Move layer messages to `_incoming`; never cancelled mid-receive except on shutdown.

        (Cancelling a pending receive makes channels-redis's pub/sub layer drop the channel.)
        """
        backoff = 0.1
        while True:
            try:
                if not self.joined:
                    await self._join()
                    logger.info("fan-out joined %s", INBOX_GROUP)
                message = await self.layer.receive(self.channel)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis down: the log keeps every event and the poll delivers them meanwhile.
                logger.warning("fan-out layer error; retrying in %.1fs", backoff, exc_info=True)
                self.joined = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if message.get("type") != BATCH_MESSAGE_TYPE:
                continue
            try:
                self._incoming.put_nowait(list(message.get("events", [])))
            except asyncio.QueueFull:
                logger.warning("fan-out backlog full; the events will be read from the log")

    async def _dispatch_loop(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._dispatch_once()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is down: keep the buffered events and try again.
                logger.warning("fan-out dispatch failed; retrying in %.1fs", backoff, exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _dispatch_once(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel (aclose would then wait for
        # ever) or drop a batch taken off the queue as the timeout fires.
        batch = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._wait_seconds()):
                batch = await self._incoming.get()
        while batch is not None:
            self._accept(batch)
            batch = None if self._incoming.empty() else self._incoming.get_nowait()
        now = time.monotonic()
        if self.subscriber_count:
            if self._pending and self._gap_since is not None and now - self._gap_since >= GAP_GRACE_SECONDS:
                await self._fill(min(self._pending) - 1)
            if now >= self._next_poll:
                await self._poll()
        if self.joined and now >= self._next_rejoin:
            await self._rejoin()

    def _wait_seconds(self) -> float:
        now = time.monotonic()
        wake = now + POLL_SECONDS
        if self.subscriber_count:
            wake = self._next_poll
            if self._gap_since is not None:
                wake = min(wake, self._gap_since + GAP_GRACE_SECONDS)
        if self.joined:
            wake = min(wake, self._next_rejoin)
        return max(0.0, wake - now)

    async def _poll(self) -> None:
        """Deliver events committed a poll ago whose news never came (lost broadcast, Redis down)."""
        self._next_poll = time.monotonic() + POLL_SECONDS
        latest = await db_call(last_seq)
        # Events newer than the previous poll may still be on their way over the layer.
        upto = min(latest, self._previous_latest)
        self._previous_latest = latest
        if upto > self.watermark:
            logger.info("fan-out reads seq %s-%s from the log", self.watermark + 1, upto)
            await self._fill(upto)

    async def _rejoin(self) -> None:
        try:
            await self._join()
        except Exception:
            logger.warning("fan-out could not refresh its %s membership", INBOX_GROUP, exc_info=True)
            self._next_rejoin = time.monotonic() + REJOIN_SECONDS

    async def _fill(self, upto: int) -> None:
        """Dispatch everything up to `upto` that is not dispatched yet, reading the gaps from the log."""
        cursor = self.watermark
        while self.watermark < upto:
            rows = await db_call(list_wire_events, max(cursor, self.watermark), upto=upto, limit=FILL_BATCH)
            for event in rows:
                if event["seq"] > self.watermark:
                    self._pending.setdefault(event["seq"], event)
            if len(rows) < FILL_BATCH:
                # Seqs are committed in order, so whatever is still missing up to `upto` was pruned.
                self._advance_through(upto)
                break
            cursor = rows[-1]["seq"]
            self._advance_through(cursor)

    def _accept(self, events: list[WireEvent]) -> None:
        for event in events:
            if event["seq"] > self.watermark:
                self._pending.setdefault(event["seq"], event)
        if not self.subscriber_count and self._pending:
            # Nobody to deliver to: no need to fill gaps.
            self._skip_to(max(self._pending))
        self._drain()

    def _skip_to(self, seq: int) -> None:
        self.watermark = max(self.watermark, seq)
        self._previous_latest = max(self._previous_latest, seq)
        for stale in [s for s in self._pending if s <= self.watermark]:
            del self._pending[stale]
        self._drain()

    def _advance_through(self, seq: int) -> None:
        for ready in sorted(s for s in self._pending if s <= seq):
            self._dispatch(self._pending.pop(ready))
        self.watermark = max(self.watermark, seq)
        self._drain()

    def _drain(self) -> None:
        while (event := self._pending.pop(self.watermark + 1, None)) is not None:
            self.watermark += 1
            self._dispatch(event)
        if not self._pending:
            self._gap_since = None
        elif self._gap_since is None:
            self._gap_since = time.monotonic()

    def _dispatch(self, event: WireEvent) -> None:
        seq, message = event["seq"], text_message(event["text"])
        dropped = [s for s in self._inbox if s.subscription.matches(event) and not s.offer(seq, message)]
        team_only = event["team_only"]
        dropped += [
            s
            for s in self._by_conversation.get(event["conversation_id"], ())
            if (not team_only or s.subscription.sees_team_events) and not s.offer(seq, message)
        ]
        for subscriber in dropped:
            if subscriber.overflowed:
                logger.info("closing a socket that fell %s events behind", subscriber.maxsize)
            self.unsubscribe(subscriber)


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = weakref.WeakKeyDictionary()


def get_fanout() -> Fanout:
    """The fan-out of the running event loop (daphne runs one per process), created on first use."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = Fanout(get_channel_layer())
    return fanout


def peek_fanout() -> Fanout | None:
    """The running loop's fan-out if one was created (tests check that nothing leaks)."""
    return _fanouts.get(asyncio.get_running_loop())
