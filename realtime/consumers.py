"""The two WebSocket routes: the inbox (every conversation the credential may see) and one conversation.

A socket registers with this process's fan-out before it replays, so live events queue up meanwhile;
once the replay has sent everything up to seq N, the queued events at or below N are dropped. A live
socket has no task of its own: the fan-out writes its frames (realtime/delivery.py), and the consumer
only answers client frames. Its credential is re-checked while it lives (realtime/credentials.py).
Whatever ends a socket (its close, an error in a handler), `__call__`'s `finally` leaves the fan-out
and the watch and counts it closed, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.db.models import Q

from outbound.send import send_message_for
from realtime.auth import authenticate_socket, offered_subprotocol, query_params
from realtime.credentials import CredentialWatch, get_credential_watch
from realtime.delivery import Subscriber, text_message
from realtime.fanout import Fanout, Subscription, get_fanout
from realtime.presence import get_presence
from realtime.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL_ERROR,
    CLOSE_NOT_FOUND,
    CLOSE_PROTOCOL_MISUSE,
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
from realtime.replay import REPLAY_BATCH, db_call, get_log_bounds, list_frames
from realtime.socket_presence import PresenceMixin
from store.actions.read import mark_read
from store.auth import Principal, TokenScope
from store.credentials import Credential
from store.errors import HubError, NotFound, OutOfScope
from store.events import TEAM_ONLY_EVENTS
from store.metrics import OPEN_SOCKETS, REPLAYED_EVENTS, REPLAYS_SERVED
from store.queries import get_conversation

logger = logging.getLogger(__name__)
# Presence frames held for one socket that does not read, and conversations it may name, at most.
PRESENCE_BACKLOG = 100


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
    # All at once: under uvicorn a close waits for the client's closing frame, so closing one socket
    # after another made a drain of 5,000 sockets take minutes.
    await asyncio.gather(*(socket.close(code) for socket in sockets), return_exceptions=True)
    return len(sockets)


class HubSocket(PresenceMixin, AsyncWebsocketConsumer):  # type: ignore[misc]
    """Auth, `?after=` replay, registration with the fan-out and client frames; subclasses name the
    subscription."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What the credential may see and whose it is: not the user's model row, which only a send needs.
        self.token_scope: TokenScope | None = None
        self.user_id: int | None = None
        self.token_id: int | None = None
        self.fanout: Fanout | None = None
        self.subscriber: Subscriber | None = None
        self.replay_task: asyncio.Task[None] | None = None
        self.default_customer: str | None = None
        self.default_business: str | None = None
        self.username = ""
        self._init_presence()
        self.credential: Credential | None = None
        self.watch: CredentialWatch | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run without a per-socket layer channel: the process's fan-out feeds every socket."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            with contextlib.suppress(StopConsumer):
                # One message at a time from the server, as channels' own loop, without its extra task.
                while True:
                    await self.dispatch(await receive())
        finally:
            # Also when a handler raised or the server cancelled us: nothing of the socket stays behind.
            self._release()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Called with each ASGI message; unlike channels' dispatch, no thread hop to close stale
        database connections first (the calls that use the database, `db_call`, close their own)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def subscription_for(self, principal: Principal) -> tuple[Subscription, Q]:
        """The live subscription and the same filter on HubEvent rows; may raise HubError."""
        raise NotImplementedError

    async def connect(self) -> None:
        """Called on the handshake: authenticate, register with the fan-out, accept, replay or go live."""
        subprotocol = offered_subprotocol(self.scope)
        try:
            authenticated = await authenticate_socket(self.scope)
            if authenticated is None:
                raise Refused(CLOSE_UNAUTHENTICATED)
            principal, credential = authenticated
            try:
                after = parse_after(query_params(self.scope).get("after"))
            except ValueError:
                raise Refused(CLOSE_PROTOCOL_MISUSE) from None
            try:
                subscription, where = await self.subscription_for(principal)
                if not subscription.sees_team_events:
                    where &= ~Q(type__in=TEAM_ONLY_EVENTS)
            except OutOfScope:
                raise Refused(CLOSE_FORBIDDEN) from None
            except NotFound:
                raise Refused(CLOSE_NOT_FOUND) from None
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
        self.token_scope, self.user_id, self.token_id = principal.scope, principal.user.pk, principal.token_id
        self.username = principal.user.get_username()
        self.credential = credential
        self.fanout = get_fanout()
        subscriber = Subscriber(subscription, self.base_send)
        await self.fanout.subscribe(subscriber)
        self.subscriber = subscriber
        OPEN_SOCKETS.inc()
        try:
            # Read after registering: every event above `bounds.last` reaches the subscriber.
            bounds = await db_call(get_log_bounds)
            await self.accept(subprotocol)
        except BaseException:
            self._release()
            raise
        LIVE_SOCKETS.add(self)
        self.watch = get_credential_watch()
        self.watch.watch(self)
        if after is not None and not bounds.covers(after):
            await self.send(text_data=RESYNC_REQUIRED)
            after = None
        if after is None:
            subscriber.go_live(bounds.last)
        else:
            self.replay_task = asyncio.create_task(self._replay(subscriber, after, where))
        if subscription.sees_team_events and principal.user.is_staff and self._asks_presence():
            # Presence is among agents (staff users) whose client asked for it: every other client
            # keeps the event stream it always had.
            await self._join_presence()

    async def disconnect(self, code: int) -> None:
        """Called once the socket is closed, whoever closed it."""
        replay = self.replay_task
        self._release()
        if replay is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await replay

    def _release(self) -> None:
        """Leave the fan-out and the watch and count the socket closed; idempotent, never awaits."""
        LIVE_SOCKETS.discard(self)
        if self.presence_socket is not None:
            get_presence().forget(self.presence_socket)
            self.presence_socket = None
        if self.presence_writer is not None:
            self.presence_writer.cancel()
        if self.watch is not None:
            self.watch.forget(self)
            self.watch = None
        if self.replay_task is not None:
            self.replay_task.cancel()
            self.replay_task = None
        subscriber, self.subscriber = self.subscriber, None
        if self.fanout is not None and subscriber is not None:
            self.fanout.unsubscribe(subscriber)
            subscriber.detach()
            OPEN_SOCKETS.dec()

    def revoke(self) -> None:
        """Called by the credential watch: the socket's token or session no longer holds."""
        self.stop(CLOSE_UNAUTHENTICATED)

    def stop(self, code: int) -> None:
        """Write nothing more to the socket and close it with `code`; `disconnect` follows."""
        if self.subscriber is not None:
            self.subscriber.stop(code)

    async def _replay(self, subscriber: Subscriber, cursor: int, where: Q) -> None:
        """Send logged events above `cursor` in batches, then hand the socket to the fan-out."""
        REPLAYS_SERVED.inc()
        send = self.base_send
        try:
            batch = await db_call(list_frames, cursor, where=where, limit=REPLAY_BATCH)
            while batch and subscriber.closing is None:
                # Read the next batch while this one is written.
                following = (
                    asyncio.ensure_future(db_call(list_frames, batch[-1][0], where=where, limit=REPLAY_BATCH))
                    if len(batch) == REPLAY_BATCH
                    else None
                )
                try:
                    for seq, text in batch:
                        await send(text_message(text))
                        cursor = seq
                except BaseException:
                    if following is not None:
                        following.cancel()
                    raise
                REPLAYED_EVENTS.inc(len(batch))
                batch = await following if following is not None else []
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("socket replay failed", exc_info=True)
            subscriber.stop(CLOSE_INTERNAL_ERROR)
        finally:
            self.replay_task = None
        # The events that arrived meanwhile follow, without the ones just replayed.
        subscriber.go_live(cursor)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Called with each client frame; every frame gets exactly one answer, and no error in answering
        ends the consumer: the database down closes the socket with 1011 after the answer."""
        request_id: str | int | None = None
        close_with: int | None = None
        try:
            frame = parse_client_frame(text_data)
            request_id = request_id_of(frame)
            reply = await self._answer(frame)
        except (FrameError, HubError) as error:
            reply = error_frame(error.code, error.detail, request_id)
        except DatabaseError:
            # The client reconnects later with `after`: nothing is lost meanwhile.
            logger.warning("socket frame failed: database unavailable", exc_info=True)
            reply = error_frame(
                "database_unavailable", "The database is unavailable; retry later.", request_id
            )
            close_with = CLOSE_INTERNAL_ERROR
        except User.DoesNotExist:
            reply = error_frame("unauthenticated", "The credential's user no longer exists.", request_id)
            close_with = CLOSE_UNAUTHENTICATED
        except Exception:
            logger.exception("socket frame failed")
            reply = error_frame(
                "internal_error", "The hub failed to answer; the error is logged.", request_id
            )
        await self.send(text_data=reply)
        if close_with is not None:
            self.stop(close_with)

    async def _answer(self, frame: dict[str, object]) -> str:
        kind = frame["type"]
        if kind == "ping":
            return PONG
        if kind == "mark_read":
            return await self._mark_read(frame)
        if kind == "send":
            return await self._send(frame)
        if kind == "presence":
            return await self._presence(frame)
        raise FrameError(f"Unknown frame type {str(kind)[:40]!r}.")

    async def _mark_read(self, frame: dict[str, object]) -> str:
        assert self.token_scope is not None
        request = parse_mark_read(
            frame, default_customer=self.default_customer, default_business=self.default_business
        )
        result = await db_call(
            mark_read,
            self.token_scope,
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
        """The REST send over the socket; `request_id` only correlates the answer, `idempotency_key`
        (optional) names the send as REST's Idempotency-Key header does (docs/websocket.md)."""
        assert self.token_scope is not None
        request_id = request_id_of(frame)
        key = frame.get("idempotency_key")
        if key is not None and not isinstance(key, str):
            raise FrameError("idempotency_key must be a string.", "invalid_idempotency_key")
        user = await db_call(User.objects.get, pk=self.user_id)
        principal = Principal(user=user, scope=self.token_scope, token_id=self.token_id)
        outcome = await send_message_for(principal, frame, key)
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
