"""Whether the database answers, known in about a second while it is suspected down.

With PostgreSQL stopped, psycopg's pool makes every caller wait its whole timeout (HUB_DB_POOL_TIMEOUT,
10 s) for a connection it cannot make. After a connection failure, and once at start, callers that
must answer fast (the webhook) ask here first: a direct connection attempt with a 1 s timeout, its
result kept for half a second, tells them to answer 503 at once instead.
"""

from __future__ import annotations

import threading
import time

import psycopg
from django.db import connection

PROBE_TIMEOUT_SECONDS = 1
PROBE_KEPT_SECONDS = 0.5


class DatabaseAvailability:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._suspected = True
        self._probed_at = float("-inf")
        self._reachable = False

    def report_outage(self) -> None:
        """A statement failed as the database being unreachable would make it fail."""
        with self._lock:
            self._suspected = True
            self._probed_at = float("-inf")

    def reachable(self) -> bool:
        if connection.vendor != "postgresql":
            return True
        with self._lock:
            if not self._suspected:
                return True
            if time.monotonic() - self._probed_at < PROBE_KEPT_SECONDS:
                return self._reachable
            # One probe at a time: the others take its answer.
            self._reachable = _connects()
            self._probed_at = time.monotonic()
            if self._reachable:
                self._suspected = False
            return self._reachable


def _connects() -> bool:
    settings = connection.settings_dict
    params = {
        "dbname": settings["NAME"],
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
    }
    try:
        with psycopg.connect(connect_timeout=PROBE_TIMEOUT_SECONDS, **{k: v for k, v in params.items() if v}):
            return True
    except psycopg.Error:
        return False


database = DatabaseAvailability()
