"""Which agents are online, as this process's realtime layer last said (docs/team-inbox.md).

The seam through which the store reads presence without importing realtime/: realtime/presence.py
hands its replica's online list here, and auto-assignment (store/actions/auto_assign.py) reads it. The
list is a tuple replaced whole, so reading it from the ingest thread while the event loop replaces it
needs no lock. A process whose realtime layer never started knows nobody online.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

OnlineSource = Callable[[], Iterable[str]]

_source: OnlineSource | None = None


def provide_online_agents(source: OnlineSource | None) -> None:
    """Called by the realtime layer once per process (and by tests): where the online list comes from."""
    global _source
    _source = source


def online_agents() -> tuple[str, ...]:
    """The usernames of the agents online anywhere, sorted; empty when nothing provides them."""
    source = _source
    return tuple(sorted(set(source()))) if source is not None else ()
