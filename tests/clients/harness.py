"""The hub the client suites talk to: one process per server kind, restarted, frozen and killed on demand.

Both suites (the Python client's under pytest, the JavaScript client's under `node --test`, through
tests/clients/control.py) drive the same processes and the same verbs. Events are recorded straight
into the shared database, as a webhook would record them: they reach the sockets over the channel layer
(or the log poll) whatever state the server process is in, so a restart can be had mid-stream.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from django.db import connection

from outbound.fake_graph import FakeGraph
from store.actions.record import record_batch
from store.eventlog import last_seq
from store.management.commands.prune_events import prune_events
from store.records import IngestBatch
from tests.clients.slow_link import SlowLink
from tests.realtime.helpers import ALICE, BUSINESS, inbound, make_token
from tests.reliability.clients import INBOX
from tests.reliability.cluster import HubProcess, Server
from tests.support import TEST_APP_SECRET

SERVERS: tuple[Server, ...] = ("daphne", "uvicorn")
GRAPH_TOKEN = "client-suite-graph-token"
# A short drain: the restart scenarios wait for it twice per suite.
HUB_ENV = {
    "HUB_DRAIN_SECONDS": "0.2",
    "HUB_SHUTDOWN_GRACE_SECONDS": "2",
    "WHATSAPP_ACCESS_TOKEN": GRAPH_TOKEN,
}

R = TypeVar("R")


def in_db(fn: Callable[[], R]) -> R:
    """Run `fn` with this thread's connection, then hand it back (callers run in many threads)."""
    try:
        return fn()
    finally:
        connection.close()


class ClientWorld:
    """The hubs, a token that sees everything, and a fake Graph API for sends."""

    def __init__(self) -> None:
        self.graph = FakeGraph(app_secret=TEST_APP_SECRET, access_token=GRAPH_TOKEN, status_delays=(0.05,))
        self.env = {**HUB_ENV, "WHATSAPP_GRAPH_URL": self.graph.start()}
        self.token = make_token("client-suite")
        self.hubs: dict[Server, HubProcess] = {}
        self.lock = threading.Lock()
        self.links: list[SlowLink] = []
        for server in SERVERS:
            self.hubs[server] = HubProcess(f"clients-{server}", server=server, env=self.env).start()
        # Status webhooks of the fake's sends go to the first hub (its port never changes).
        self.graph.app.webhook_url = f"{self.hubs['daphne'].base}/api/whatsapp/webhook/"

    def stop(self) -> None:
        for link in self.links:
            link.close()
        for hub in self.hubs.values():
            hub.stop()
        self.graph.stop()

    def ws_url(self, server: Server, path: str = INBOX) -> str:
        return self.hubs[server].ws_base + path

    def last_seq(self) -> int:
        return in_db(last_seq)

    def record(self, count: int, *, text: str = "hello", per_batch: int = 50, customer: str = ALICE) -> int:
        """Record `count` inbound messages (one event each), `per_batch` to a transaction; returns the
        last seq."""
        seqs: list[int] = []

        def write() -> None:
            for start in range(0, count, per_batch):
                messages = [
                    inbound(customer, BUSINESS, text=text) for _ in range(min(per_batch, count - start))
                ]
                batch = IngestBatch(businesses=[messages[0].business], messages=messages)
                seqs.extend(event.seq for event in record_batch(batch))

        in_db(write)
        return seqs[-1]

    @contextmanager
    def recording(self, count: int, spacing: float) -> Iterator[list[int]]:
        """Record `count` messages one at a time, `spacing` seconds apart, in a thread, while the body runs;
        yields the list of seqs, complete once the block has ended."""
        seqs: list[int] = []

        def write() -> None:
            for _ in range(count):
                seqs.append(self.record(1))
                time.sleep(spacing)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            yield seqs
        finally:
            thread.join()

    def restart(self, server: Server, during: int = 0) -> int:
        """SIGTERM the hub (it drains and closes its sockets with 4012) and start it again on its port,
        while `during` messages are recorded across the restart; returns the last seq."""
        with self.lock, self.recording(during, 0.05):
            old = self.hubs[server]
            time.sleep(0.3)  # the stream is flowing
            old.stop()
            self.hubs[server] = HubProcess(old.name, port=old.port, server=server, env=self.env).start()
        return self.last_seq()

    def freeze(self, server: Server) -> None:
        """SIGSTOP: the process neither answers nor closes anything, as a machine that vanished."""
        self.hubs[server].signal(signal.SIGSTOP)

    def kill_frozen(self, server: Server) -> None:
        """SIGKILL the frozen process (no close frame ever leaves it) and start a new one on its port."""
        with self.lock:
            old = self.hubs[server]
            old.kill()
            old.stop()
            self.hubs[server] = HubProcess(old.name, port=old.port, server=server, env=self.env).start()

    def record_for(self, seconds: float, spacing: float = 0.25) -> int:
        """Record one event every `spacing` seconds for `seconds`; returns the last seq."""
        deadline = time.monotonic() + seconds
        end = self.record(1)
        while time.monotonic() < deadline:
            time.sleep(spacing)
            end = self.record(1)
        return end

    def slow_link(self, server: Server) -> SlowLink:
        """A relay to `server` that can stop reading from it (tests/clients/slow_link.py); the world
        closes it when it stops."""
        link = SlowLink(self.hubs[server].port)
        self.links.append(link)
        return link

    def prune(self) -> int:
        """Drop every logged event but the newest (as `prune_events` does past the retention); returns the
        oldest seq kept."""
        in_db(lambda: prune_events(datetime.now(UTC) + timedelta(days=1)))
        return self.last_seq()
