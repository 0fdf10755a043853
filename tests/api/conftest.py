"""Fixtures of the API tests: users, tokens and clients that present them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from store.auth import issue_token
from tests.api.clients import make_client


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
