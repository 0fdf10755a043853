"""The two WebSocket routes: the inbox (every conversation the credential may see) and one conversation.

A socket registers with this process's fan-out before it replays, so live events queue up meanwhile;
once the replay has sent everything up to seq N, the queued events at or below N are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.utils import await_many_dispatch
from django.db import DatabaseError
from django.db.models import Q

from realtime.auth import authenticate_socket, offered_subprotocol, query_params
from realtime.fanout import Fanout, Subscriber, Subscription, get_fanout
from realtime.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL_ERROR,
    CLOSE_NOT_FOUND,
    CLOSE_PROTOCOL_MISUSE,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHENTICATED,
    PONG,
    RESYNC_REQUIRED,
    FrameError,
    encode,
    error_frame,
    parse_after,
    parse_client_frame,
    parse_mark_read,
    request_id_of,
)
from realtime.replay import REPLAY_BATCH, db_call, get_log_bounds, list_wire_events
from store.actions.read import mark_read
from store.actions.send import configured_sender
from store.auth import Principal
from store.errors import Forbidden, HubError, NotFound
from store.metrics import OPEN_SOCKETS, REPLAYED_EVENTS, REPLAYS_SERVED
from store.queries import get_conversation

logger = logging.getLogger(__name__)


class Refused(Exception):
    """The handshake is accepted and then closed with `code`, so that clients can read the code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# The sockets this process serves, so a draining server can close them all (hub/lifecycle.py).
LIVE_SOCKETS: weakref.WeakSet[HubSocket] = weakref.WeakSet()


async def close_all_sockets(code: int) -> int:
    """Close every live socket of this process with `code`; returns how many."""
    sockets = list(LIVE_SOCKETS)
    for socket in sockets:
        with contextlib.suppress(Exception):
            await socket.close(code)
    return len(sockets)


class HubSocket(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Auth, `?after=` replay, the live stream and client frames; subclasses name the subscription."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.principal: Principal | None = None
        self.fanout: Fanout | None = None
        self.subscriber: Subscriber | None = None
        self.stream_task: asyncio.Task[None] | None = None
        self.default_customer: str | None = None
        self.default_business: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run without a per-socket layer channel: the process's fan-out feeds every socket."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive], self.dispatch)

    async def subscription_for(self, principal: Principal) -> tuple[Subscription, Q]:
        """The live subscription and the same filter on HubEvent rows; may raise HubError."""
        raise NotImplementedError

    async def connect(self) -> None:
        """Called on the handshake: authenticate, register with the fan-out, accept, start streaming."""
        subprotocol = offered_subprotocol(self.scope)
        try:
            principal = await authenticate_socket(self.scope)
            if principal is None:
                raise Refused(CLOSE_UNAUTHENTICATED)
            try:
                after = parse_after(query_params(self.scope).get("after"))
            except ValueError:
                raise Refused(CLOSE_PROTOCOL_MISUSE) from None
            try:
                subscription, where = await self.subscription_for(principal)
            except NotFound:
                raise Refused(CLOSE_NOT_FOUND) from None
            except Forbidden:
                raise Refused(CLOSE_FORBIDDEN) from None
        except DatabaseError:
            # The client retries later (with `after`): nothing is lost meanwhile.
            logger.warning("socket refused: database unavailable", exc_info=True)
            await self.accept(subprotocol)
            await self.close(CLOSE_INTERNAL_ERROR)
            return
        except Refused as refusal:
            await self.accept(subprotocol)
            await self.close(refusal.code)
            return
        self.principal = principal
        self.fanout = get_fanout()
        self.subscriber = Subscriber(subscription)
        await self.fanout.subscribe(self.subscriber)
        OPEN_SOCKETS.inc()
        try:
            # Read after registering: every event above `bounds.last` reaches the subscriber's queue.
            bounds = await db_call(get_log_bounds)
            await self.accept(subprotocol)
        except BaseException:
            self._leave()
            raise
        LIVE_SOCKETS.add(self)
        if after is not None and not bounds.covers(after):
            await self.send(text_data=RESYNC_REQUIRED)
            after = None
        replay = after is not None
        self.stream_task = asyncio.create_task(
            self._stream(bounds.last if after is None else after, replay, where)
        )

    async def disconnect(self, code: int) -> None:
        """Called once the socket is closed, whoever closed it."""
        LIVE_SOCKETS.discard(self)
        if self.stream_task is not None:
            self.stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.stream_task
            self.stream_task = None
        self._leave()

    def _leave(self) -> None:
        if self.fanout is not None and self.subscriber is not None:
            self.fanout.unsubscribe(self.subscriber)
            OPEN_SOCKETS.dec()
        self.subscriber = None

    async def _stream(self, cursor: int, replay: bool, where: Q) -> None:
        subscriber = self.subscriber
        assert subscriber is not None
        try:
            if replay:
                REPLAYS_SERVED.inc()
                cursor = await self._replay(subscriber, cursor, where)
            while not subscriber.overflowed:
                event = await subscriber.queue.get()
                if subscriber.overflowed:
                    break
                if event["seq"] > cursor:
                    await self.send(text_data=event["text"])
                    cursor = event["seq"]
            # The client replays from its last seq when it reconnects.
            await self.close(CLOSE_TOO_SLOW)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("socket stream failed", exc_info=True)
            with contextlib.suppress(Exception):
                await self.close(CLOSE_INTERNAL_ERROR)

    async def _replay(self, subscriber: Subscriber, cursor: int, where: Q) -> int:
        """Send logged events above `cursor` in batches; returns the last seq sent."""
        while not subscriber.overflowed:
            batch = await db_call(list_wire_events, cursor, where=where, limit=REPLAY_BATCH)
            for event in batch:
                await self.send(text_data=event["text"])
                cursor = event["seq"]
            REPLAYED_EVENTS.inc(len(batch))
            if len(batch) < REPLAY_BATCH:
                break
        return cursor

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Called with each client frame; every frame gets exactly one answer."""
        request_id: str | int | None = None
        try:
            frame = parse_client_frame(text_data)
            request_id = request_id_of(frame)
            reply = await self._answer(frame)
        except FrameError as error:
            reply = error_frame(error.code, error.detail, request_id)
        except HubError as error:
            reply = error_frame(error.code, error.detail, request_id)
        await self.send(text_data=reply)

    async def _answer(self, frame: dict[str, object]) -> str:
        kind = frame["type"]
        if kind == "ping":
            return PONG
        if kind == "mark_read":
            return await self._mark_read(frame)
        if kind == "send":
            return await self._send(frame)
        raise FrameError(f"Unknown frame type {str(kind)[:40]!r}.")

    async def _mark_read(self, frame: dict[str, object]) -> str:
        assert self.principal is not None
        request = parse_mark_read(
            frame, default_customer=self.default_customer, default_business=self.default_business
        )
        result = await db_call(
            mark_read,
            self.principal.scope,
            customer=request.customer,
            business=request.business,
            message_ids=request.message_ids,
        )
        reply: dict[str, object] = {"type": "mark_read.ok", "marked": result.marked}
        request_id = request_id_of(frame)
        if request_id is not None:
            reply["request_id"] = request_id
        return encode(reply)

    async def _send(self, frame: dict[str, object]) -> str:
        """The REST send over the socket; the frame's `request_id` doubles as its idempotency key."""
        assert self.principal is not None
        request_id = request_id_of(frame)
        key = str(request_id) if request_id is not None else None
        outcome = await configured_sender()(self.principal, frame, key)
        reply: dict[str, object] = (
            {"type": "send.ok", "message": outcome.message}
            if outcome.error is None
            else {"type": "error", **outcome.body()}
        )
        if request_id is not None:
            reply["request_id"] = request_id
        return encode(reply)


class InboxSocket(HubSocket):
    """`/ws/whatsapp/inbox/`: every event of every conversation the credential may see."""

    async def subscription_for(self, principal: Principal) -> tuple[Subscription, Q]:
        return Subscription(scope=principal.scope), principal.scope.conversation_filter("conversation__")


class ConversationSocket(HubSocket):
    """`/ws/whatsapp/conversations/<customer>/?business=`: one conversation's events."""

    async def subscription_for(self, principal: Principal) -> tuple[Subscription, Q]:
        customer = str(self.scope["url_route"]["kwargs"]["customer"])
        business = query_params(self.scope).get("business") or None
        conversation = await db_call(get_conversation, principal.scope, customer, business)
        self.default_customer = conversation.customer_key
        self.default_business = conversation.business_phone_number_id
        subscription = Subscription(scope=principal.scope, conversation_id=conversation.pk)
        return subscription, Q(conversation_id=conversation.pk)
