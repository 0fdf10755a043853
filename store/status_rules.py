"""Pure rules for how a message's status may move: only forward, and `failed` is terminal."""

from __future__ import annotations

# pending, unknown < sent < delivered < read < played; `delivered` may never come. `unknown` (the answer
# to the send was lost) is left by Meta's first status for the message, which proves it arrived.
FORWARD_RANK = {"pending": 0, "unknown": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}
FAILED = "failed"


def advance_status(current: str, reported: str) -> str | None:
    """The status a message takes when Meta reports `reported`, or None when it does not change.

    Statuses only move forward; `failed` wins from any state and nothing leaves it, so the final
    status is the same whatever order Meta's (at-least-once, unordered) reports arrive in.
    """
    if current in (FAILED, reported):
        return None
    if reported == FAILED:
        return FAILED
    if reported not in FORWARD_RANK:
        return None
    if FORWARD_RANK[reported] > FORWARD_RANK.get(current, -1):
        return reported
    return None
