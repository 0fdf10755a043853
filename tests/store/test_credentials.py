"""The batched re-check of live credentials and token revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from store.auth import authenticate_token, issue_token
from store.credentials import Credential, list_valid_credentials
from store.models import ApiToken

pytestmark = pytest.mark.django_db


def credential_of(raw: str) -> Credential:
    principal = authenticate_token(raw)
    assert principal is not None
    return Credential(principal.user.pk, principal.scope, token_id=principal.token_id)


def test_list_valid_credentials_checks_every_token_in_one_query() -> None:
    users = [User.objects.create_user(f"u{i}") for i in range(5)]
    credentials = [credential_of(issue_token(users[i % 5], customers=[f"1555000{i:04}"])) for i in range(40)]
    ApiToken.objects.filter(pk=credentials[0].token_id or 0).update(expires_at=datetime.now(UTC))
    User.objects.filter(pk=users[1].pk).update(is_active=False)

    with CaptureQueriesContext(connection) as queries:
        valid = list_valid_credentials(credentials)

    assert len(queries) == 1
    assert valid == {c for i, c in enumerate(credentials) if i != 0 and i % 5 != 1}


def test_revoke_token_by_prefix_expires_it_for_rest_at_once() -> None:
    user = User.objects.create_user("agent")
    kept, revoked = issue_token(user), issue_token(user)

    call_command("revoke_token", revoked[:10])

    assert authenticate_token(revoked) is None
    assert authenticate_token(kept) is not None


def test_revoke_token_by_user_and_whole_token() -> None:
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    alice_tokens = [issue_token(alice), issue_token(alice)]
    bob_token, bob_other = issue_token(bob), issue_token(bob)

    call_command("revoke_token", bob_token, user="alice")

    assert [authenticate_token(t) for t in [*alice_tokens, bob_token]] == [None, None, None]
    assert authenticate_token(bob_other) is not None


def test_revoke_token_unknown_prefix_is_an_error_that_names_no_token() -> None:
    with pytest.raises(CommandError, match="No token"):
        call_command("revoke_token", "wah_zzzzzz")
    with pytest.raises(CommandError):
        call_command("revoke_token")


def test_revoke_keeps_an_earlier_expiry() -> None:
    earlier = datetime.now(UTC) - timedelta(days=1)
    issue_token(User.objects.create_user("agent"), expires_at=earlier)

    call_command("revoke_token", user="agent")

    assert ApiToken.objects.get().expires_at == earlier
