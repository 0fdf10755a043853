"""Test configuration: real services when asked for, and a webhook secret known to the tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connections
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.support import TEST_APP_SECRET, TEST_VERIFY_TOKEN

# With HUB_REQUIRE_SERVICES set (CI), a missing PostgreSQL or Redis fails the test instead of skipping it.
REQUIRE_SERVICES = os.environ.get("HUB_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes", "on"}


def _missing(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (HUB_REQUIRE_SERVICES) but not available")
    pytest.skip(f"{what} not available")


def redis_reachable() -> bool:
    url = os.environ.get("REDIS_URL")
    if not url:
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Before the test database is dropped, end the sessions still open on it.

    psycopg's pool keeps idle connections, and threads that ran async ORM calls keep theirs checked out;
    PostgreSQL refuses to drop a database that has sessions.
    """
    yield
    with django_db_blocker.unblock():
        connection = connections["default"]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


@pytest.fixture(autouse=True)
def _services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and not settings.DATABASES["default"]["ENGINE"].endswith(
        "postgresql"
    ):
        _missing("PostgreSQL (DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("redis") and not redis_reachable():
        _missing("Redis (REDIS_URL=redis://...)")


@pytest.fixture(autouse=True)
def _webhook_secrets(settings: SettingsWrapper) -> None:
    settings.WHATSAPP_APP_SECRET = TEST_APP_SECRET
    settings.WHATSAPP_VERIFY_TOKEN = TEST_VERIFY_TOKEN
    # Production settings redirect plain HTTP to HTTPS; the test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
