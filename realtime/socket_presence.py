"""The presence side of a team socket: joining, writing presence frames, the `presence` client frame.

A mixin of `realtime.consumers.HubSocket`, kept apart so that the consumer stays about its lifecycle.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from outbound.typing import show_typing
from realtime.auth import query_params
from realtime.presence import PresenceSocket, get_presence, new_socket_key
from realtime.presence_book import STATES, ConversationKey
from realtime.protocol import FrameError, encode, request_id_of
from realtime.replay import db_call
from store.auth import TokenScope
from store.errors import Forbidden
from store.queries import get_conversation

logger = logging.getLogger(__name__)
# Presence frames held for one socket that does not read, and conversations it may name, at most.
PRESENCE_BACKLOG = 100


class PresenceMixin:
    """What a socket needs to take part in presence; `HubSocket` sets the attributes it reads."""

    scope: Any
    token_scope: TokenScope | None
    username: str
    default_customer: str | None
    default_business: str | None

    def _init_presence(self) -> None:
        # This socket in the presence of the team (None unless it takes part), and its frames.
        self.presence_socket: PresenceSocket | None = None
        self.presence_frames: deque[str] = deque()
        self.presence_writer: asyncio.Task[None] | None = None
        self.presence_keys: dict[tuple[str, str | None], ConversationKey] = {}
        self.typing_task: asyncio.Task[bool] | None = None

    if TYPE_CHECKING:
        # AsyncWebsocketConsumer's, which comes after this mixin in HubSocket's bases.
        async def send(self, text_data: str | None = None) -> None: ...

    def _asks_presence(self) -> bool:
        return query_params(self.scope).get("presence") in ("1", "true")

    async def _join_presence(self) -> None:
        assert self.token_scope is not None
        conversation = None
        if self.default_business is not None and self.default_customer is not None:
            conversation = (self.default_business, self.default_customer)
        self.presence_socket = PresenceSocket(
            key=new_socket_key(),
            user=self.username,
            scope=self.token_scope,
            deliver=self._deliver_presence,
            conversation=conversation,
        )
        await get_presence().join(self.presence_socket)

    def _deliver_presence(self, frame: str) -> None:
        """Queue a presence frame; one short-lived task writes the queue, in order, then ends."""
        if len(self.presence_frames) >= PRESENCE_BACKLOG:
            return  # a reader this far behind gets the next change instead
        self.presence_frames.append(frame)
        if self.presence_writer is None:
            self.presence_writer = asyncio.create_task(self._write_presence())

    async def _write_presence(self) -> None:
        try:
            while self.presence_frames:
                await self.send(text_data=self.presence_frames.popleft())
        except Exception:
            logger.info("presence write failed", exc_info=True)
        finally:
            self.presence_writer = None

    async def _presence(self, frame: dict[str, object]) -> str:
        """`{"type": "presence", "conversation"?, "business"?, "state"}`: viewing, typing or idle."""
        if self.presence_socket is None:
            raise Forbidden("Presence is for agents: staff users whose token is not scoped to customers.")
        state = frame.get("state")
        if state not in STATES:
            raise FrameError("state must be viewing, typing or idle.")
        conversation = await self._presence_conversation(frame)
        await get_presence().update(self.presence_socket, conversation, state)  # type: ignore[arg-type]
        if state == "typing":
            self.typing_task = asyncio.create_task(show_typing(*conversation))
        reply: dict[str, object] = {"type": "presence.ok"}
        request_id = request_id_of(frame)
        if request_id is not None:
            reply["request_id"] = request_id
        return encode(reply)

    async def _presence_conversation(self, frame: dict[str, object]) -> ConversationKey:
        customer, business = frame.get("conversation"), frame.get("business")
        if customer is None and self.presence_socket is not None and self.presence_socket.conversation:
            return self.presence_socket.conversation
        if (
            not isinstance(customer, str)
            or not customer
            or (business is not None and not isinstance(business, str))
        ):
            raise FrameError("conversation must name the customer (wa_id or BSUID).")
        cached = self.presence_keys.get((customer, business))
        if cached is not None:
            return cached
        assert self.token_scope is not None
        found = await db_call(get_conversation, self.token_scope, customer, business)
        key = (found.business_phone_number_id, found.customer_key)
        if len(self.presence_keys) >= PRESENCE_BACKLOG:
            self.presence_keys.clear()
        self.presence_keys[(customer, business)] = key
        return key
