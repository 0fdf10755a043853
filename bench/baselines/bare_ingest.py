"""Bare ingest: an ASGI endpoint that verifies the HMAC and inserts the body as one row (psycopg pool).

The floor the hub's webhook is measured against, served by the same server (daphne). With
`BENCH_PUBLISH_CHANNEL` set it also publishes the body on Redis after the insert, which makes it, with
bare_websockets.py, the bare webhook-to-socket path. With `BENCH_STORE_MESSAGES=1` it also decodes the
body and stores each message it carries as a row of its own (wamid, sender, text), in the raw row's
transaction: the floor of a POST that carries 50 messages, each of which the hub stores.

    DATABASE_URL=postgres://... WHATSAPP_APP_SECRET=... daphne bench.baselines.bare_ingest:app
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from webhook.signature import verify_signature

TABLE_DDL = "CREATE TABLE IF NOT EXISTS bench_raw_webhook (id bigserial PRIMARY KEY, body bytea NOT NULL)"
INSERT = "INSERT INTO bench_raw_webhook (body) VALUES (%s)"
MESSAGE_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_bare_message (id bigserial PRIMARY KEY, wamid text NOT NULL, "
    "sender text NOT NULL, text_body text NOT NULL)"
)
INSERT_MESSAGE = "INSERT INTO bench_bare_message (wamid, sender, text_body) VALUES (%s, %s, %s)"
# The hub's default pool (HUB_DB_POOL_MIN / HUB_DB_POOL_MAX).
POOL_MIN, POOL_MAX = 2, 10

_state: dict[str, Any] = {}
_lock = asyncio.Lock()


async def _resources() -> tuple[AsyncConnectionPool, Redis | None]:
    # Daphne runs no lifespan events: open the pool on first use, as the hub does.
    async with _lock:
        if "pool" not in _state:
            pool = AsyncConnectionPool(
                os.environ["DATABASE_URL"], min_size=POOL_MIN, max_size=POOL_MAX, open=False
            )
            await pool.open()
            async with pool.connection() as conn:
                await conn.execute(TABLE_DDL)
                await conn.execute(MESSAGE_DDL)
            _state["pool"] = pool
            url = os.environ.get("REDIS_URL")
            _state["redis"] = Redis.from_url(url) if url and os.environ.get("BENCH_PUBLISH_CHANNEL") else None
    return _state["pool"], _state["redis"]


def _messages(body: bytes) -> list[tuple[str, str, str]]:
    """(wamid, sender, text) of every message of a Cloud API webhook body."""
    rows = []
    for entry in json.loads(body).get("entry", []):
        for change in entry.get("changes", []):
            for message in change.get("value", {}).get("messages", []):
                text = message.get("text", {}).get("body", "")
                rows.append((message["id"], message["from"], text))
    return rows


async def _respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    if scope["method"] != "POST":
        await _respond(send, 200, b'{"status":"ok"}')
        return
    signature = next((v.decode() for k, v in scope["headers"] if k == b"x-hub-signature-256"), None)
    if not verify_signature(os.environ["WHATSAPP_APP_SECRET"], body, signature):
        await _respond(send, 403, b'{"error":"invalid_signature"}')
        return
    pool, redis = await _resources()
    messages = _messages(body) if os.environ.get("BENCH_STORE_MESSAGES") == "1" else []
    async with pool.connection() as conn:
        await conn.execute(INSERT, (body,))
        if messages:
            # One pipelined statement for all of them, as the hub inserts a group's messages.
            async with conn.cursor() as cursor:
                await cursor.executemany(INSERT_MESSAGE, messages)
    if redis is not None:
        await redis.publish(os.environ["BENCH_PUBLISH_CHANNEL"], body)
    await _respond(send, 200, b'{"status":"ok"}')
