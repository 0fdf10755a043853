"""Shows a customer that an agent is typing, through Meta's typing indicator (the read call).

Called when an agent's presence turns to `typing` (realtime/consumers.py); best effort, never retried:
an indicator that arrives late is worse than none.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from asgiref.sync import sync_to_async

from outbound.graph import GraphError, SendingDisabled, graph_client_from_settings
from store.actions.typing import TYPING_INDICATOR_INTERVAL, claim_typing_indicator

logger = logging.getLogger(__name__)

# This process's own memory of its last claims, so a typing agent costs no query at every refresh.
_recent: dict[tuple[str, str], float] = {}
_RECENT_LIMIT = 10_000


def _recently_claimed(key: tuple[str, str], now: float) -> bool:
    last = _recent.get(key)
    if last is not None and now - last < TYPING_INDICATOR_INTERVAL.total_seconds():
        return True
    if len(_recent) >= _RECENT_LIMIT:
        _recent.clear()
    _recent[key] = now
    return False


async def show_typing(business: str, customer: str) -> bool:
    """Send the indicator if none went out for this conversation in the last 25 s; True if sent."""
    if _recently_claimed((business, customer), time.monotonic()):
        return False
    wamid = await sync_to_async(claim_typing_indicator)(business, customer, datetime.now(UTC))
    if wamid is None:
        return False
    try:
        async with graph_client_from_settings(max_retries=0) as client:
            await client.mark_read(business, wamid, typing=True)
    except (SendingDisabled, GraphError) as error:
        logger.info("typing indicator for a conversation of %s not shown: %r", business, error)
        return False
    return True
