"""The one place that hands committed HubEvents to the channel layer; it owns the group names.

The channel layer only carries news: a failure here is logged and never fails the write, because every
event is in the HubEvent log and clients replay it with `after` (docs/websocket.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from store.events import TEAM_ONLY_EVENTS, event_frame
from store.layer_publish import group_send_many
from store.metrics import BROADCAST_FAILURES
from store.models import HubEvent

logger = logging.getLogger(__name__)

INBOX_GROUP = "inbox"
BATCH_MESSAGE_TYPE = "hub.events"
PUBLISH_TIMEOUT_SECONDS = 2.0


class WireEvent(TypedDict):
    """One event as it travels over the layer: encoded once here, written as-is to every socket."""

    seq: int
    conversation_id: int
    business: str
    customers: list[str]
    # True for events a token scoped to customers must not receive (store.events.TEAM_ONLY_EVENTS).
    team_only: bool
    text: str


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def wire_event(event: HubEvent) -> WireEvent:
    return wire_event_of(event.seq, event.type, event.payload)


def wire_event_of(seq: int, kind: str, payload: dict[str, Any]) -> WireEvent:
    """A logged event's wire form from its columns (replay reads them without building model rows)."""
    frame = event_frame(seq, kind, payload)
    conversation = frame["conversation"]
    customers = [c for c in (conversation["phone_number"], conversation["user_id"]) if c]
    return {
        "seq": seq,
        "conversation_id": conversation["id"],
        "business": conversation["business_phone_number_id"],
        "customers": customers,
        "team_only": kind in TEAM_ONLY_EVENTS,
        "text": json.dumps(frame, separators=(",", ":"), ensure_ascii=False),
    }


def frame_text_of(seq: int, kind: str, payload_json: str) -> str:
    """A logged event's frame text from its payload as the database's JSON text, without decoding it.

    Replay sends thousands of frames, and decoding and re-encoding each payload cost more than sending
    it. The frame is the one `event_frame` builds (type, seq, then the payload's keys); PostgreSQL's jsonb
    text spaces its separators and orders keys its own way, which JSON readers do not see.
    """
    body = payload_json.strip()
    head = f'{{"type":{json.dumps(kind)},"seq":{seq}'
    if not body.startswith("{") or not body.endswith("}"):
        raise ValueError(f"the payload of event {seq} is not a JSON object")
    if body[1:-1].strip() == "":
        return head + "}"
    return head + "," + body[1:]


def group_messages(events: Iterable[HubEvent]) -> dict[str, dict[str, Any]]:
    """The layer messages for `events`: the whole batch to `inbox`, each conversation's part to its group."""
    wire = [wire_event(event) for event in events]
    by_group: dict[str, list[WireEvent]] = defaultdict(list)
    for item in wire:
        by_group[conversation_group(item["conversation_id"])].append(item)
    messages = {INBOX_GROUP: {"type": BATCH_MESSAGE_TYPE, "events": wire}}
    for group, items in by_group.items():
        messages[group] = {"type": BATCH_MESSAGE_TYPE, "events": items}
    return messages


async def apublish_events(events: Sequence[HubEvent]) -> None:
    if not events:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        # `inbox` first: the server processes' fan-out listens there.
        await asyncio.wait_for(group_send_many(layer, group_messages(events)), PUBLISH_TIMEOUT_SECONDS)
    except Exception:
        # Redis down or the layer full: the log has the events and clients replay them.
        BROADCAST_FAILURES.inc()
        logger.warning("broadcast of seq %s-%s failed", events[0].seq, events[-1].seq, exc_info=True)


_server_loop: asyncio.AbstractEventLoop | None = None


def bind_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Name the server's event loop, so commits in worker threads publish without waiting for Redis."""
    global _server_loop
    _server_loop = loop


def publish_events(events: Sequence[HubEvent]) -> None:
    """Publish committed events; called by `transaction.on_commit` from synchronous code.

    In a server process the publish is handed to the event loop and the request answers at once (the
    log already has the events); elsewhere (commands, tests) it runs before returning.
    """
    loop = _server_loop
    if loop is not None and loop.is_running() and not _on_loop(loop):
        asyncio.run_coroutine_threadsafe(apublish_events(events), loop)
        return
    try:
        async_to_sync(apublish_events)(events)
    except Exception:
        logger.warning("broadcast of %s events failed", len(events), exc_info=True)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
