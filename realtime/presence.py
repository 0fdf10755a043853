"""Presence across server processes: who is viewing or typing where, and which agents are online.

Ephemeral by design: nothing is written to the database or the event log. Each process joins the
`presence` group once; a socket's change is broadcast to every process (its own included), which applies
it to its replica (realtime/presence_book.py) and tells its local sockets when a set changed. A process
that starts asks its peers to announce their sockets, so a new socket gets a full snapshot. Tokens scoped
to customers take no part: they neither send nor receive presence (docs/team-inbox.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from realtime.presence_book import ConversationKey, PresenceBook, PresenceState
from store.auth import TokenScope
from store.online_agents import provide_online_agents

logger = logging.getLogger(__name__)

PRESENCE_GROUP = "presence"
SWEEP_SECONDS = 1.0
REJOIN_SECONDS = 60.0


def presence_ttl() -> float:
    """Seconds an entry lives after its last refresh (`HUB_PRESENCE_TTL_SECONDS`, 30 by default)."""
    return float(settings.HUB_PRESENCE_TTL_SECONDS)


@dataclass(eq=False)
class PresenceSocket:
    """One local socket that takes part: its user, what it may see, and how to hand it a frame."""

    key: str
    user: str
    scope: TokenScope
    deliver: Callable[[str], None]
    # A conversation socket sees one conversation's presence; an inbox socket, every one in its scope.
    conversation: ConversationKey | None = None
    # The last `agents` frame it was given: an unchanged list is not sent again.
    last_agents: str | None = None

    def tell_agents(self, frame: str) -> None:
        if self.conversation is None and frame != self.last_agents:
            self.last_agents = frame
            self.deliver(frame)

    def sees(self, conversation: ConversationKey) -> bool:
        if self.conversation is not None:
            return conversation == self.conversation
        return self.scope.unrestricted or self.scope.allows(conversation[0], [conversation[1]])


def presence_frame(conversation: ConversationKey, book: PresenceBook) -> str:
    snapshot = book.snapshot(conversation)
    frame = {
        "type": "presence",
        "conversation": conversation[1],
        "business": conversation[0],
        "viewing": list(snapshot.viewing),
        "typing": list(snapshot.typing),
    }
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def agents_frame(book: PresenceBook) -> str:
    return json.dumps({"type": "agents", "online": list(book.online_users())}, separators=(",", ":"))


class Presence:
    """The presence of one event loop (one server process)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.book = PresenceBook()
        self.local: dict[str, PresenceSocket] = {}
        self.channel: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._announcing: set[asyncio.Task[None]] = set()
        # The online list changed since it was last sent: sent at most once per sweep, so a thousand
        # agents connecting at once cost a thousand frames per socket-second, not a million.
        self._agents_changed = False
        self._start_lock = asyncio.Lock()
        # The online list as a tuple replaced whole: the store reads it from other threads
        # (store/online_agents.py, for auto-assignment).
        self.online_now: tuple[str, ...] = ()

    async def join(self, socket: PresenceSocket) -> None:
        """A socket opened: it is online, and it gets the agents and every presence it may see."""
        await self._ensure_started()
        # Applied here first, so the snapshot names this agent and the echo of the broadcast is no change.
        self._tell([], self.book.set_online(socket.key, socket.user, time.monotonic() + presence_ttl()))
        self.local[socket.key] = socket
        socket.tell_agents(agents_frame(self.book))
        for conversation in list(self.book.states):
            if socket.sees(conversation):
                socket.deliver(presence_frame(conversation, self.book))
        await self._broadcast(online_event(socket))

    async def start(self) -> None:
        """Join the other processes' presence without a socket of its own (auto-assignment needs the
        online list in the process that records webhooks)."""
        await self._ensure_started()

    async def update(
        self, socket: PresenceSocket, conversation: ConversationKey, state: PresenceState
    ) -> None:
        await self._broadcast(state_event(socket.key, socket.user, conversation, state, presence_ttl()))

    async def leave(self, socket: PresenceSocket) -> None:
        """A socket closed: its states end now, not at their expiry."""
        if self.local.pop(socket.key, None) is not None:
            await self._broadcast({"kind": "leave", "socket": socket.key})

    def forget(self, socket: PresenceSocket) -> None:
        """`leave` for a caller that cannot await (a socket's release): the broadcast goes in a task."""
        if socket.key not in self.local:
            return
        task = asyncio.get_running_loop().create_task(self.leave(socket))
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def aclose(self) -> None:
        for task in [*self._tasks, *self._announcing]:
            task.cancel()
        for task in [*self._tasks, *self._announcing]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(PRESENCE_GROUP, self.channel)
            self.channel = None

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if self.channel is not None:
                return
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(PRESENCE_GROUP, self.channel)
            self._tasks = [asyncio.create_task(self._receive_loop()), asyncio.create_task(self._sweep_loop())]
            await self._broadcast({"kind": "sync"})

    async def _broadcast(self, event: dict[str, Any]) -> None:
        # Lifetimes travel as a TTL, each process adding its own clock: clocks of peers need not agree.
        try:
            await self.layer.group_send(PRESENCE_GROUP, {"type": "presence.event", **event})
        except Exception:
            # Presence is best effort: a Redis outage loses it, never a message.
            logger.warning("presence broadcast failed", exc_info=True)

    async def _receive_loop(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("presence receive failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            self.apply(message)

    def apply(self, message: dict[str, Any]) -> None:
        """Apply one broadcast to the replica and tell local sockets what changed."""
        kind = message.get("kind")
        now = time.monotonic()
        expires = now + float(message.get("ttl", presence_ttl()))
        changed: list[ConversationKey] = []
        online_changed = False
        if kind == "state":
            conversation = (str(message["business"]), str(message["customer"]))
            changed = self.book.set_state(
                conversation, str(message["socket"]), str(message["user"]), message["state"], expires
            )
            online_changed = self.book.set_online(str(message["socket"]), str(message["user"]), expires)
        elif kind == "online":
            online_changed = self.book.set_online(str(message["socket"]), str(message["user"]), expires)
        elif kind == "leave":
            changed, online_changed = self.book.drop_socket(str(message["socket"]))
        elif kind == "sync":
            task = asyncio.create_task(self._announce_local())
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)
        self._tell(changed, online_changed)

    async def _announce_local(self) -> None:
        for socket in list(self.local.values()):
            await self._broadcast(online_event(socket))
        now = time.monotonic()
        for conversation, key, entry in self.book.entries_of(set(self.local)):
            ttl = max(entry.expires - now, 0.0)
            await self._broadcast(state_event(key, entry.user, conversation, entry.state, ttl))

    async def _sweep_loop(self) -> None:
        last_refresh = last_rejoin = time.monotonic()
        while True:
            await asyncio.sleep(min(SWEEP_SECONDS, presence_ttl() / 3))
            now = time.monotonic()
            self._tell(*self.book.expire(now))
            self._flush_agents()
            # Open sockets are re-announced well within the TTL, so peers keep them online.
            if now - last_refresh >= presence_ttl() / 3:
                last_refresh = now
                for socket in list(self.local.values()):
                    await self._broadcast(online_event(socket))
            if now - last_rejoin >= REJOIN_SECONDS and self.channel is not None:
                last_rejoin = now
                with contextlib.suppress(Exception):
                    await self.layer.group_add(PRESENCE_GROUP, self.channel)

    def _flush_agents(self) -> None:
        if not self._agents_changed:
            return
        self._agents_changed = False
        agents = agents_frame(self.book)
        for socket in list(self.local.values()):
            socket.tell_agents(agents)

    def _tell(self, changed: list[ConversationKey], online_changed: bool) -> None:
        self._agents_changed = self._agents_changed or online_changed
        if online_changed:
            self.online_now = self.book.online_users()
        if not changed:
            return
        frames = {conversation: presence_frame(conversation, self.book) for conversation in changed}
        for socket in list(self.local.values()):
            for conversation, frame in frames.items():
                if socket.sees(conversation):
                    socket.deliver(frame)


def state_event(
    socket: str, user: str, conversation: ConversationKey, state: PresenceState, ttl: float
) -> dict[str, Any]:
    return {
        "kind": "state",
        "socket": socket,
        "user": user,
        "business": conversation[0],
        "customer": conversation[1],
        "state": state,
        "ttl": ttl,
    }


def online_event(socket: PresenceSocket) -> dict[str, Any]:
    return {"kind": "online", "socket": socket.key, "user": socket.user, "ttl": presence_ttl()}


def new_socket_key() -> str:
    return uuid.uuid4().hex


_presences: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Presence] = weakref.WeakKeyDictionary()


def get_presence() -> Presence:
    """The presence of the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    presence = _presences.get(loop)
    if presence is None:
        presence = _presences[loop] = Presence(get_channel_layer())
        provide_online_agents(lambda: presence.online_now)
    return presence


def peek_presence() -> Presence | None:
    with contextlib.suppress(RuntimeError):
        return _presences.get(asyncio.get_running_loop())
    return None
