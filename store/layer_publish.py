"""Several group messages to the channel layer in one round trip, where the layer allows it.

channels-redis's pub/sub layer sends each `group_send` as its own PUBLISH and waits for the answer under
a per-connection lock, so a webhook group that touched 16 conversations cost 17 round trips on the
server's event loop (a quarter of its busy time under load). Here the same messages, serialized by the
layer itself, go out as one pipeline of PUBLISH commands. Any other layer gets plain `group_send`s.

channels-redis has no public way to send several messages at once, and `asyncio.gather` of
`group_send`s would still wait for each answer in turn under that lock. So this module is the one place
that uses the layer's private parts (`_get_layer`, `_get_group_channel_name`, `_get_shard`, and the
shard's `_lock`, `_ensure_redis` and `_redis`). The dependency is pinned below the next minor release
in pyproject.toml, and tests/store/test_layer_publish.py checks on the pinned version that these parts
are there and that the pipeline is taken, so an upgrade that moves them fails a test instead of quietly
falling back to one round trip per group.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer


async def group_send_many(layer: Any, messages: dict[str, dict[str, Any]]) -> None:
    """Send each group its message, in order per connection; raises what the layer raises."""
    if not isinstance(layer, RedisPubSubChannelLayer) or not _pipelinable(layer):
        for group, message in messages.items():
            await layer.group_send(group, message)
        return
    loop_layer = layer._get_layer()
    by_shard: dict[Any, list[tuple[str, bytes]]] = defaultdict(list)
    for group, message in messages.items():
        channel = loop_layer._get_group_channel_name(group)
        by_shard[loop_layer._get_shard(channel)].append((channel, layer.serialize(message)))
    for shard, items in by_shard.items():
        async with shard._lock:
            shard._ensure_redis()
            pipeline = shard._redis.pipeline(transaction=False)
            for channel, data in items:
                pipeline.publish(channel, data)
            await pipeline.execute()


def _pipelinable(layer: RedisPubSubChannelLayer) -> bool:
    """Whether this layer has the private parts the pipeline needs; without them, plain group_send works."""
    try:
        loop_layer = layer._get_layer()
    except RuntimeError:
        return False
    return all(hasattr(loop_layer, name) for name in ("_get_group_channel_name", "_get_shard")) and all(
        hasattr(shard, name) for shard in loop_layer._shards for name in ("_lock", "_ensure_redis", "_redis")
    )
