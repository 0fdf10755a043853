"""Fixtures of the API tests: users, tokens and clients that present them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from store.auth import issue_token
from tests.api.clients import make_client
from tests.api.data import SHOP


@pytest.fixture
def agent(db: None) -> User:
    # No password: hashing one costs most of a test's time, and sessions use force_login.
    return User.objects.create_user("agent")


@pytest.fixture
def staff(db: None) -> User:
    """A console user: sessions are an API credential of staff users only."""
    return User.objects.create_user("console-agent", is_staff=True)


@pytest.fixture
def token(agent: User) -> str:
    return issue_token(agent)


@pytest.fixture
def bearer() -> Callable[[str], Client]:
    def make(raw: str) -> Client:
        return make_client(authorization=f"Bearer {raw}")

    return make


@pytest.fixture
def api(bearer: Callable[[str], Client], token: str) -> Client:
    """A client with an unrestricted token."""
    return bearer(token)


@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeGraph]:
    """The fake Graph API on loopback, configured as the hub's Graph API, sending from SHOP."""
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.WHATSAPP_PHONE_NUMBER_ID = SHOP.phone_number_id
        yield server
