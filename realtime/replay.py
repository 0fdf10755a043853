"""Reading the HubEvent log for sockets: replay frames, gap fills, the retained range, off-loop ORM calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.db.models import Min, Q, TextField
from django.db.models.functions import Cast

from store.eventlog import last_seq
from store.models import HubEvent
from store.publish import WireEvent, frame_text_of, wire_event_of

REPLAY_BATCH = 1000

P = ParamSpec("P")
R = TypeVar("R")


async def db_call(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ORM code in a worker thread and hand its connection back afterwards.

    Sockets and the fan-out live for hours outside Django's request cycle, so nothing else would ever
    close (or return to the pool) the connection they use. The calls are self-contained reads, so they
    need not share the one thread-sensitive thread with requests.
    """

    def call() -> R:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=False)()


@dataclass(frozen=True, slots=True)
class LogBounds:
    """The retained part of the log: its smallest seq (None when empty) and the newest seq handed out."""

    first: int | None
    last: int

    def covers(self, after: int) -> bool:
        """True when every event after `after` is still in the log (nothing was pruned past it)."""
        if after > self.last:
            # A seq from another database (or a restored backup): the client must start over.
            return False
        return self.first is None or after >= self.first - 1


def get_log_bounds() -> LogBounds:
    first = HubEvent.objects.aggregate(first=Min("seq"))["first"]
    return LogBounds(first=first, last=last_seq())


def list_wire_events(
    after: int, *, upto: int | None = None, where: Q | None = None, limit: int = REPLAY_BATCH
) -> list[WireEvent]:
    """Logged events with `after < seq <= upto` matching `where`, oldest first, at most `limit`."""
    rows = HubEvent.objects.filter(seq__gt=after)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    if where is not None:
        rows = rows.filter(where)
    columns = rows.order_by("seq").values_list("seq", "type", "payload")[:limit]
    return [wire_event_of(seq, kind, payload) for seq, kind, payload in columns]


def list_frames(after: int, *, where: Q | None = None, limit: int = REPLAY_BATCH) -> list[tuple[int, str]]:
    """The frame texts of logged events with `seq > after` matching `where`, oldest first, at most `limit`.

    For replay: the payload is read as JSON text and spliced into the frame, never decoded.
    """
    rows = HubEvent.objects.filter(seq__gt=after)
    if where is not None:
        rows = rows.filter(where)
    payload = Cast("payload", output_field=TextField())
    columns = rows.order_by("seq").values_list("seq", "type", payload)[:limit]
    return [(seq, frame_text_of(seq, kind, text)) for seq, kind, text in columns]
