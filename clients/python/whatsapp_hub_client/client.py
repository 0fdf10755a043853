"""HubClient: one subscription to a hub socket that outlives its connections.

A single task reads the socket. Events go to a bounded queue that `events()` empties; when the app stops
iterating, the queue fills, the task stops reading and TCP pushes back on the server (which closes a
socket too far behind with 4008; the client then comes back with `after`). The keepalive counts silence
only while the task is waiting for a frame, so a slow app is never mistaken for a dead server.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from whatsapp_hub_client.policy import (
    ABNORMAL_CLOSE,
    KEEPALIVE_CLOSE,
    backoff_delay,
    is_seq,
    should_reconnect,
    with_after,
)

logger = logging.getLogger(__name__)

Frame = dict[str, Any]
StateCallback = Callable[[str, Mapping[str, Any]], object]
FrameCallback = Callable[[Frame], object]
ResyncCallback = Callable[[Frame], Awaitable[object] | object]

PING = '{"type":"ping"}'


class HubClosed(Exception):
    """The hub closed the socket with a code a retry cannot fix: 4401, 4403, 4404 or 4400."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed by the hub with {code} {reason}".strip())
        self.code = code
        self.reason = reason


class HubRequestError(Exception):
    """A request answered with an `error` frame (`code` is the server's), or "timeout" / "closed"."""

    def __init__(self, code: str, detail: str, frame: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.frame = frame


class HubClient:
    """`async with HubClient(url, token=...) as hub: async for event in hub.events(after=seq): ...`"""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        after: int | None = None,
        on_resync: ResyncCallback | None = None,
        on_state: StateCallback | None = None,
        on_frame: FrameCallback | None = None,
        ping_interval: float = 10.0,
        pong_timeout: float = 10.0,
        request_timeout: float = 15.0,
        open_timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float = 10.0,
        max_buffered: int = 256,
    ) -> None:
        if after is not None and not is_seq(after):
            raise ValueError("after must be a seq (a non-negative integer)")
        self.url = url
        self.token = token
        self.on_resync = on_resync
        self.on_state = on_state
        # Frames without a seq that are not answers: `presence` and `agents` (never replayed).
        self.on_frame = on_frame
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        # The last seq handed to the app: persist it and pass it as `after` to resume after a cold start.
        self.seq = after
        # The last seq read off the socket (queued events included): what a reconnect asks to follow.
        self._received = after
        self.state = "idle"
        self.close_code: int | None = None
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue(maxsize=max_buffered)
        self._pending: dict[str | int, tuple[Frame, asyncio.Future[Frame]]] = {}
        self._socket: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped: HubClosed | None = None
        self._closing = False

    async def __aenter__(self) -> HubClient:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.create_task(self._run(), name="hub-client")

    async def events(self, after: int | None = None) -> AsyncIterator[Frame]:
        """Every event after `after` (or after connecting), in seq order, across reconnects. Raises
        HubClosed when the hub refuses for good; ends when the client is closed."""
        if after is not None:
            if self._task is not None:
                raise RuntimeError("give `after` before the client starts")
            if not is_seq(after):
                raise ValueError("after must be a seq (a non-negative integer)")
            self.seq = self._received = after
        self.start()
        while True:
            frame = await self._queue.get()
            if frame is None:
                if self._stopped is not None:
                    raise self._stopped
                return
            if is_seq(frame.get("seq")):
                self.seq = frame["seq"]
                yield frame
            elif self.on_resync is None:
                yield frame
            else:
                result = self.on_resync(frame)
                if inspect.isawaitable(result):
                    await result

    async def send(self, frame: Mapping[str, Any], answer_within: float | None = None) -> Frame:
        """Send `frame` with a `request_id` (added when absent); returns the answer that names it, raises
        HubRequestError on an `error` answer or none within `answer_within` seconds (default
        `request_timeout`). A request unanswered when the socket drops is
        sent again on the next one: a send carries an `idempotency_key`, so it reaches the customer once."""
        request = dict(frame)
        if request.get("request_id") is None:
            request["request_id"] = uuid.uuid4().hex
        if request.get("type") == "send" and not request.get("idempotency_key"):
            request["idempotency_key"] = uuid.uuid4().hex
        request_id = request["request_id"]
        if self._closing or self._stopped is not None:
            raise HubRequestError("closed", "the client is stopped", request)
        if request_id in self._pending:
            raise HubRequestError("duplicate_request_id", f"{request_id} is in flight", request)
        self.start()
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (request, future)
        try:
            async with asyncio.timeout(self.request_timeout if answer_within is None else answer_within):
                socket = self._socket
                if socket is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await socket.send(json.dumps(request))
                return await future
        except TimeoutError:
            raise HubRequestError("timeout", f"no answer to {request.get('type')}", request) from None
        finally:
            self._pending.pop(request_id, None)

    async def mark_read(
        self,
        *,
        phone_number: str | None = None,
        message_ids: list[int | str] | None = None,
        business: str | None = None,
        answer_within: float | None = None,
    ) -> Frame:
        """Mark one conversation (or, on a conversation socket, its own) or some messages read."""
        frame: Frame = {"type": "mark_read"}
        fields = {"phone_number": phone_number, "message_ids": message_ids, "business": business}
        frame.update({key: value for key, value in fields.items() if value is not None})
        return await self.send(frame, answer_within)

    async def send_message(
        self, to: str, *, idempotency_key: str | None = None, answer_within: float | None = None, **body: Any
    ) -> Frame:
        """Send a message (the body of POST /api/whatsapp/messages/, e.g. `text=...`); returns it as stored.
        A retry with the same `idempotency_key` never reaches the customer twice."""
        frame = {**body, "type": "send", "to": to, "idempotency_key": idempotency_key or uuid.uuid4().hex}
        answer = await self.send(frame, answer_within)
        message: Frame = answer["message"]
        return message

    async def presence(
        self,
        state: str,
        *,
        conversation: str | None = None,
        business: str | None = None,
        answer_within: float | None = None,
    ) -> Frame:
        """This user's presence in one conversation ("viewing", "typing" or "idle"), for the team: on a
        staff user's socket opened with `?presence=1` (docs/team-inbox.md). Returns `presence.ok`."""
        frame: Frame = {"type": "presence", "state": state}
        fields = {"conversation": conversation, "business": business}
        frame.update({key: value for key, value in fields.items() if value is not None})
        return await self.send(frame, answer_within)

    async def close(self) -> None:
        """Stop for good: pending requests fail with "closed", `events()` ends."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._fail_pending("the client was closed")
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        self._set_state("stopped", code=self.close_code)

    # Internals.

    def _set_state(self, state: str, **detail: Any) -> None:
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state, detail)
            except Exception:
                logger.exception("on_state failed")

    def _fail_pending(self, why: str) -> None:
        for request, future in self._pending.values():
            if not future.done():
                future.set_exception(HubRequestError("closed", why, request))

    async def _run(self) -> None:
        attempt = 0
        while True:
            code, reason, lived = await self._connect_once()
            self.close_code = code
            if not should_reconnect(code):
                self._stopped = HubClosed(code, reason)
                self._fail_pending(f"closed by the hub with {code}")
                self._set_state("stopped", code=code, reason=reason)
                await self._queue.put(None)
                return
            # A connection that lived a while starts the backoff over; one refused at once keeps growing it.
            if lived >= self.stable_after:
                attempt = 0
            delay = backoff_delay(attempt, initial=self.backoff_initial, ceiling=self.backoff_max)
            attempt += 1
            self._set_state("reconnecting", code=code, reason=reason, delay=delay, after=self._received)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> tuple[int, str, float]:
        """One connection from handshake to close: its close code and reason, and how long it was open."""
        url = with_after(self.url, self._received)
        self._set_state("connecting", url=url, after=self._received)
        protocols = [Subprotocol("bearer"), Subprotocol(self.token)] if self.token else None
        try:
            socket = await connect(
                url,
                subprotocols=protocols,
                open_timeout=self.open_timeout,
                ping_interval=None,
                close_timeout=1,
            )
        except (OSError, InvalidHandshake, TimeoutError) as error:
            return ABNORMAL_CLOSE, str(error), 0.0
        opened = time.monotonic()
        try:
            self._socket = socket
            self._set_state("open", after=self._received)
            for request, _ in list(self._pending.values()):
                with contextlib.suppress(ConnectionClosed):
                    await socket.send(json.dumps(request))
            code, reason = await self._read(socket)
        finally:
            self._socket = None
            await socket.close()
        return code, reason, time.monotonic() - opened

    async def _read(self, socket: ClientConnection) -> tuple[int, str]:
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands as a
                # frame arrives, and close() would then wait for ever on a task that never ends.
                try:
                    async with asyncio.timeout(self.ping_interval):
                        text = await socket.recv()
                except TimeoutError:
                    try:
                        async with asyncio.timeout(self.pong_timeout):
                            await socket.send(PING)
                            text = await socket.recv()
                    except TimeoutError:
                        await socket.close(KEEPALIVE_CLOSE, "no answer to ping")
                        return KEEPALIVE_CLOSE, "no answer to ping"
            except ConnectionClosed as closed:
                received = closed.rcvd
                return (received.code, received.reason) if received else (ABNORMAL_CLOSE, "")
            await self._dispatch(text if isinstance(text, str) else text.decode())

    async def _dispatch(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            logger.warning("a frame that is not JSON: %.80r", text)
            return
        if not isinstance(frame, dict):
            return
        request_id = frame.get("request_id")
        pending = self._pending.get(request_id) if isinstance(request_id, str | int) else None
        if pending is not None:
            _, future = pending
            if not future.done():
                if frame.get("type") == "error":
                    error = HubRequestError(str(frame.get("error")), str(frame.get("detail", "")), frame)
                    future.set_exception(error)
                else:
                    future.set_result(frame)
            return
        seq = frame.get("seq")
        if is_seq(seq):
            if self._received is not None and seq <= self._received:
                return  # already seen
            self._received = seq
            await self._queue.put(frame)
        elif frame.get("type") == "resync_required":
            await self._queue.put(frame)
        elif frame.get("type") == "error":
            logger.warning("error frame from the hub: %s %s", frame.get("error"), frame.get("detail"))
        elif self.on_frame is not None:
            try:
                self.on_frame(frame)
            except Exception:
                logger.exception("on_frame failed")
