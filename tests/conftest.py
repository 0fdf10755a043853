"""Test configuration: real services when asked for, and a webhook secret known to the tests."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
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
