"""This process's re-check of its live sockets' credentials: one batched read per interval, not per socket.

Every `HUB_SOCKET_RECHECK_SECONDS` the watch collects the distinct credentials of the sockets it holds,
asks the store which still authenticate with the same scope (store/credentials.py), and closes the
others with 4401. While the database is down the sockets stay open and the next round checks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Protocol

from django.conf import settings

from realtime.replay import db_call
from store.credentials import Credential, list_valid_credentials

logger = logging.getLogger(__name__)


class Watched(Protocol):
    """A socket the watch can check and close."""

    @property
    def credential(self) -> Credential | None: ...

    def revoke(self) -> None:
        """Close the socket with 4401: its credential no longer holds."""


class CredentialWatch:
    """The watch of one event loop (one server process); its task runs only while it holds sockets."""

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[Watched] = weakref.WeakSet()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def watch(self, socket: Watched) -> None:
        self._sockets.add(socket)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="credential-watch")

    def forget(self, socket: Watched) -> None:
        self._sockets.discard(socket)
        if not self._sockets and self._task is not None:
            self._task.cancel()
            self._task = None

    async def check_now(self) -> int:
        """One round: close the sockets whose credential no longer holds; returns how many were closed."""
        sockets = [s for s in list(self._sockets) if s.credential is not None]
        if not sockets:
            return 0
        valid = await db_call(list_valid_credentials, {s.credential for s in sockets if s.credential})
        self.rounds += 1
        revoked = [s for s in sockets if s.credential not in valid]
        for socket in revoked:
            self._sockets.discard(socket)
            socket.revoke()
        if revoked:
            logger.info("closed %s sockets whose credentials no longer hold", len(revoked))
        return len(revoked)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(float(settings.HUB_SOCKET_RECHECK_SECONDS))
            try:
                await self.check_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is down: the sockets keep what they have; the next round checks again.
                logger.warning("socket credential check failed", exc_info=True)

    async def aclose(self) -> None:
        """Stop the task (tests; a server process just exits)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CredentialWatch] = weakref.WeakKeyDictionary()


def get_credential_watch() -> CredentialWatch:
    """The watch of the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches[loop] = CredentialWatch()
    return watch
