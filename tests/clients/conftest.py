"""One hub process per server kind for the whole client suite (starting one takes seconds).

The processes outlive single tests, so the database is not flushed between tests (a flush would restart
the seq numbers under a running fan-out): the package holds database access open and flushes once at
the end, leaving the empty database the other tests expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from tests.clients.harness import ClientWorld
from tests.conftest import REQUIRE_SERVICES


@pytest.fixture(scope="package")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[ClientWorld]:
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor != "postgresql":
            message = "the client suite runs hub processes on the PostgreSQL named by DATABASE_URL"
            if REQUIRE_SERVICES:
                pytest.fail(message)
            pytest.skip(message)
        hubs = ClientWorld()
        try:
            yield hubs
        finally:
            hubs.stop()
            call_command("flush", interactive=False, verbosity=0)
