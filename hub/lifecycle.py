"""A server process's life: background work started on first use, and a graceful drain on SIGTERM.

Daphne runs no ASGI lifespan events, so the job worker starts with the first request or socket. On
SIGTERM the process first answers `/api/ready/` with 503 so the load balancer stops sending it new
work, keeps serving for `HUB_DRAIN_SECONDS`, closes its sockets with 4012 (service restart: clients
reconnect elsewhere and replay with `after`), waits up to `HUB_SHUTDOWN_GRACE_SECONDS` for requests in
flight (webhooks included) to be answered, then hands the signal to the server's own handler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings

from outbound.worker import ensure_worker_started, stop_worker
from realtime.consumers import close_all_sockets
from realtime.presence import get_presence
from store import publish
from store.actions.auto_assign import auto_assign_enabled

logger = logging.getLogger(__name__)

# 1012 (service restart) mirrored into the application range: WebSocket servers may send 1000 or
# 3000-4999 only (RFC 6455 section 7.4), as 4008 mirrors 1008.
CLOSE_SERVICE_RESTART = 4012
CLOSE_FLUSH_SECONDS = 0.5
READY_PATH = "/api/ready/"
DRAINING_BODY = json.dumps(
    {"status": "draining", "error": "draining", "detail": "This process is shutting down."}
).encode()


class ProcessLifecycle:
    """ASGI wrapper around the whole application of one server process."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.draining = False
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.previous_handler: Any = None
        self.installed = False
        self.presence_start: asyncio.Future[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        self.start_once()
        if self.draining:
            if kind == "websocket":
                await refuse_socket(receive, send)
                return
            if scope["path"] == READY_PATH:
                await answer_draining(send)
                return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        self.idle.clear()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()

    def start_once(self) -> None:
        ensure_worker_started()
        if self.installed:
            return
        self.installed = True
        publish.bind_event_loop(asyncio.get_running_loop())
        if auto_assign_enabled():
            # Webhooks may land on a process no agent is connected to: it needs the online list too.
            self.presence_start = asyncio.ensure_future(get_presence().start())
        # Signal handlers can only be set from the main thread (where daphne runs the application).
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            self.previous_handler = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, lambda signum, frame: self.on_sigterm(loop, signum, frame))

    def on_sigterm(self, loop: asyncio.AbstractEventLoop, signum: int, frame: FrameType | None) -> None:
        if self.draining:
            return
        self.draining = True
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self.drain()))

    async def drain(self) -> None:
        started = time.monotonic()
        logger.info("SIGTERM: draining for %ss before closing sockets", settings.HUB_DRAIN_SECONDS)
        await asyncio.sleep(settings.HUB_DRAIN_SECONDS)
        closed = await close_all_sockets(CLOSE_SERVICE_RESTART)
        stop_worker()
        # Let the close frames and the last answers reach the network before the server stops.
        await asyncio.sleep(CLOSE_FLUSH_SECONDS)
        if self.in_flight:
            try:
                await asyncio.wait_for(self.idle.wait(), settings.HUB_SHUTDOWN_GRACE_SECONDS)
            except TimeoutError:
                logger.warning("shutting down with %s requests still in flight", self.in_flight)
        logger.info("drained in %.1fs (%s sockets closed); stopping", time.monotonic() - started, closed)
        self.stop_server()

    def stop_server(self) -> None:
        """Give SIGTERM back to the server (daphne's Twisted reactor stops on it)."""
        previous = self.previous_handler
        if callable(previous):
            previous(signal.SIGTERM, None)
            return
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


async def refuse_socket(receive: Any, send: Any) -> None:
    """A draining process takes no new sockets: accept, then close with 4012 so the client goes elsewhere."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_SERVICE_RESTART})


async def answer_draining(send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(DRAINING_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": DRAINING_BODY})
