"""Bare broadcast: a `websockets` server that writes every message of a Redis channel to every socket.

`/` holds a socket open and sends it each broadcast; `/replay?after=N&limit=M` sends the stored payload
of every HubEvent above seq N (psycopg, through a pool of 10 connections, in batches of 500), the bare
counterpart of the hub's `?after=` replay.

    python -m bench.baselines.bare_websockets --port 8001 --redis redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import os
from urllib.parse import parse_qs, urlsplit

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.workers import raise_fd_limit

CHANNEL = "bench.broadcast"
REPLAY_BATCH = 500
REPLAY_SQL = "SELECT seq, payload::text FROM whatsapp_hubevent WHERE seq > %s ORDER BY seq LIMIT %s"

clients: set[ServerConnection] = set()


_pool: list[AsyncConnectionPool] = []


async def connections() -> AsyncConnectionPool:
    """A pool as the hub's (HUB_DB_POOL_MAX 10): a storm of replays must not open a connection each,
    which PostgreSQL's max_connections would refuse."""
    if not _pool:
        pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=2, max_size=10, open=False)
        await pool.open()
        _pool.append(pool)
    return _pool[0]


async def replay(ws: ServerConnection, after: int, limit: int) -> None:
    async with (await connections()).connection() as conn:
        sent = 0
        while sent < limit:
            rows = await (await conn.execute(REPLAY_SQL, (after, min(REPLAY_BATCH, limit - sent)))).fetchall()
            for seq, payload in rows:
                await ws.send(payload)
                after = seq
            sent += len(rows)
            if len(rows) < REPLAY_BATCH:
                break


async def handler(ws: ServerConnection) -> None:
    target = urlsplit(ws.request.path if ws.request else "/")
    if target.path == "/replay":
        query = {k: v[-1] for k, v in parse_qs(target.query).items()}
        await replay(ws, int(query.get("after", "0")), int(query.get("limit", "10000")))
        await ws.wait_closed()
        return
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)


async def relay(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(CHANNEL)
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(clients, message["data"].decode())


async def main(port: int, redis_url: str) -> None:
    raise_fd_limit()
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=None):
        await relay(redis_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    options = parser.parse_args()
    asyncio.run(main(options.port, options.redis))
