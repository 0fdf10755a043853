"""Which channels-redis layer suits the fan-out: N batches sent to `inbox`, read by 2 process channels.

Each receiver is its own process with its own layer instance and one channel in `inbox`, as a server
process's fan-out is. The publisher sends one ~300-byte event per batch, awaiting each group_send as
store/publish.py does, and the receivers report throughput and end-to-end latency.

    python bench/layer_choice.py --redis redis://127.0.0.1:6379/0 --messages 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from typing import Any

LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
GROUP = "inbox"


def make_layer(kind: str, url: str, prefix: str) -> Any:
    if kind == "core":
        from channels_redis.core import RedisChannelLayer

        return RedisChannelLayer(hosts=[url], prefix=prefix, capacity=5000, expiry=10, group_expiry=300)
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return RedisPubSubChannelLayer(hosts=[url], prefix=prefix)


def sample_batch(seq: int) -> dict[str, Any]:
    text = json.dumps({"type": "message.created", "seq": seq, "body": "x" * 200})
    event = {
        "seq": seq,
        "conversation_id": 1,
        "business": "100001",
        "customers": ["15551230001"],
        "text": text,
    }
    return {"type": "hub.events", "events": [event], "sent": time.time()}


async def receive(kind: str, url: str, prefix: str, count: int, ready: Any, results: Any) -> None:
    layer = make_layer(kind, url, prefix)
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    ready.set()
    latencies: list[float] = []
    seqs: list[int] = []
    first = 0.0
    while len(latencies) < count:
        try:
            message = await asyncio.wait_for(layer.receive(channel), 10)
        except TimeoutError:
            break
        now = time.time()
        if message.get("type") == "stop":
            break
        first = first or message["sent"]
        latencies.append(now - message["sent"])
        seqs.append(message["events"][0]["seq"])
    results.put(
        {
            "received": len(latencies),
            "latencies": latencies,
            "first": first,
            "last": time.time(),
            "in_order": seqs == sorted(seqs),
        }
    )


def receiver_process(kind: str, url: str, prefix: str, count: int, ready: Any, results: Any) -> None:
    asyncio.run(receive(kind, url, prefix, count, ready, results))


async def publish(kind: str, url: str, prefix: str, count: int, concurrency: int) -> float:
    layer = make_layer(kind, url, prefix)
    started = time.perf_counter()
    seqs = iter(range(1, count + 1))

    async def worker() -> None:
        for seq in seqs:
            await layer.group_send(GROUP, sample_batch(seq))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)
    for _ in range(3):
        await layer.group_send(GROUP, {"type": "stop"})
    return elapsed


def run(kind: str, url: str, count: int, concurrency: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    prefix = f"bench{int(time.time() * 1000)}"
    readies = [context.Event() for _ in range(2)]
    receivers = [
        context.Process(target=receiver_process, args=(kind, url, prefix, count, ready, results))
        for ready in readies
    ]
    for process in receivers:
        process.start()
    for ready in readies:
        ready.wait(30)
    elapsed = asyncio.run(publish(kind, url, prefix, count, concurrency))
    reports = [results.get(timeout=60) for _ in receivers]
    for process in receivers:
        process.join(30)
    latencies = sorted(latency for report in reports for latency in report["latencies"])
    received = sum(report["received"] for report in reports)
    span = max(report["last"] for report in reports) - min(report["first"] for report in reports)
    return {
        "layer": kind,
        "concurrency": concurrency,
        "publish_per_s": round(count / elapsed),
        "delivered": f"{received}/{2 * count}",
        "delivered_per_s": round(received / span) if span > 0 else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2) if latencies else None,
        "in_order": all(report["in_order"] for report in reports),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    for concurrency in args.concurrency:
        for kind in LAYERS:
            print(json.dumps(run(kind, args.redis, args.messages, concurrency)))


if __name__ == "__main__":
    main()
