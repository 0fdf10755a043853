"""Publishers of the fan-out scenario: the same event frame, sent through Redis to each server.

- hub: the hub's own channel layer (from its settings) and group_send to `inbox`, carrying wire events
  as store/publish.py builds them, numbered on from the log's last seq (the fan-out dispatches strictly
  in seq order);
- websockets: a Redis PUBLISH on the bare server's channel;
- socketio: AsyncRedisManager.emit, as a python-socketio application publishes from another process.
Each frame is a real event frame from the hub's log, restamped with `bench:<unix time>` as it is sent.
Publishing is sequential (each send awaited), so events never overtake each other.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from bench.baselines import bare_websockets
from bench.workers import CpuWindow, Report, Signals, wait_event

LAST_EVENT_SQL = "SELECT type, payload FROM whatsapp_hubevent ORDER BY seq DESC LIMIT 1"
LAST_SEQ_SQL = "SELECT value FROM whatsapp_hubsequence WHERE name = 'hub_event'"
SOCKETIO_CHANNEL = "bench-socketio"
SOCKETIO_EVENT = "bench"

Send = Callable[[int, str], Awaitable[None]]


def read_template(database_url: str) -> tuple[dict[str, Any], int]:
    """The newest logged event as a frame, and the log's last seq."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(LAST_EVENT_SQL).fetchone()
        seq_row = conn.execute(LAST_SEQ_SQL).fetchone()
    if row is None:
        raise RuntimeError("the hub's event log is empty: post one webhook first")
    kind, payload = row
    return {"type": kind, "seq": 0, **payload}, int(seq_row[0]) if seq_row else 0


def frame_text(template: dict[str, Any], seq: int) -> str:
    frame = dict(template, seq=seq)
    if "message" in frame:
        frame["message"] = dict(frame["message"], text_body=f"bench:{time.time():.6f}")
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _hub_layer(env: dict[str, str]) -> tuple[Any, str, str]:
    """The channel layer exactly as the hub configures it (backend, prefix), with its group and type."""
    os.environ.update(env)
    import django

    django.setup()
    from channels.layers import get_channel_layer

    from store.publish import BATCH_MESSAGE_TYPE, INBOX_GROUP

    return get_channel_layer(), INBOX_GROUP, BATCH_MESSAGE_TYPE


async def _sender(target: str, redis_url: str, template: dict[str, Any], env: dict[str, str]) -> Send:
    if target == "hub":
        layer, group, kind = _hub_layer(env)
        conversation = template["conversation"]
        customers = [c for c in (conversation["phone_number"], conversation["user_id"]) if c]

        async def send_hub(seq: int, text: str) -> None:
            event = {
                "seq": seq,
                "conversation_id": conversation["id"],
                "business": conversation["business_phone_number_id"],
                "customers": customers,
                "team_only": False,
                "text": text,
            }
            await layer.group_send(group, {"type": kind, "events": [event]})

        return send_hub
    if target == "websockets":
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)

        async def send_plain(seq: int, text: str) -> None:
            await redis.publish(bare_websockets.CHANNEL, text)

        return send_plain
    # python-socketio ships no type information: used as Any.
    socketio: Any = importlib.import_module("socketio")
    manager = socketio.AsyncRedisManager(redis_url, channel=SOCKETIO_CHANNEL, write_only=True)

    async def send_socketio(seq: int, text: str) -> None:
        await manager.emit(SOCKETIO_EVENT, text, namespace="/")

    return send_socketio


async def publisher_main(args: dict[str, Any], signals: Signals) -> Report:
    """From `go`, run each of `phases` (rate per second or None for flat out, count, seconds) in turn.

    Seqs continue across phases from the log's last seq, read once the subscribers are connected.
    """
    template, last_seq = read_template(args["database_url"])
    send = await _sender(args["target"], args["redis_url"], template, args["env"])
    signals.ready.set()
    await wait_event(signals.go, 120)
    if args["target"] == "hub":
        # The subscribers are connected now; the fan-out's watermark is the log's last seq.
        last_seq = read_template(args["database_url"])[1]
    seq = last_seq
    phases = []
    for rate, count, seconds in args["phases"]:
        window = CpuWindow()
        started, started_at = time.monotonic(), time.time()
        sent = 0
        for index in range(count):
            if signals.stop.is_set() or time.monotonic() - started > seconds:
                break
            if rate:
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            seq += 1
            await send(seq, frame_text(template, seq))
            sent += 1
        span = time.monotonic() - started
        phases.append(
            {"sent": sent, "span_s": span, "load_core_share": window.share(), "started_at": started_at}
        )
        await asyncio.sleep(args.get("pause", 1.0))
    return {"phases": phases}
