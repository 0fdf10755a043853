"""The pure rules of the socket protocol (docs/websocket.md): close codes, backoff, the `after` query."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeGuard

PROTOCOL_VERSION = 1

# 4400 a bad `after`, 4401 credentials, 4403 scope, 4404 unknown conversation: retrying cannot help.
STOP_CODES = frozenset({4400, 4401, 4403, 4404})
# The code this client closes a socket with when it stopped answering pings.
KEEPALIVE_CLOSE = 4000
# A socket that ended without a close frame (RFC 6455 section 7.1.5).
ABNORMAL_CLOSE = 1006


def should_reconnect(code: int | None) -> bool:
    return code not in STOP_CODES


def backoff_delay(
    attempt: int, *, initial: float = 0.5, ceiling: float = 30.0, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before reconnect attempt `attempt` (0 first): `initial` doubling up to `ceiling`, times a
    random factor between 0.5 and 1 so that many clients do not come back at once."""
    growth: float = 2.0**attempt
    return min(ceiling, initial * growth) * (0.5 + rand() / 2)


def with_after(url: str, after: int | None) -> str:
    """`url` with `after=<seq>` in its query in place of any earlier one."""
    base, _, query = url.partition("?")
    params = [p for p in query.split("&") if p and not p.startswith("after=")]
    if after is not None:
        params.append(f"after={after}")
    return f"{base}?{'&'.join(params)}" if params else base


def is_seq(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
