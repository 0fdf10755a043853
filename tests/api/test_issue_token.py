"""`manage.py issue_token`: creates the user if needed and prints the raw token alone on its last line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from store.auth import TokenScope, authenticate_token, hash_token
from store.models import ApiToken


def issue(*args: str) -> tuple[str, list[str]]:
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    lines = out.getvalue().splitlines()
    return lines[-1], lines[:-1]


@pytest.mark.django_db
def test_issue_token_new_user_creates_it_and_prints_token_last() -> None:
    raw, before = issue("dana")

    user = User.objects.get(username="dana")
    assert user.is_active
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.has_usable_password()
    assert raw.startswith("wah_")
    assert raw.strip() == raw
    assert before
    assert all(raw not in line for line in before)
    principal = authenticate_token(raw)
    assert principal is not None
    assert principal.user == user
    assert principal.scope == TokenScope()


@pytest.mark.django_db
def test_issue_token_stores_only_the_hash() -> None:
    raw, before = issue("dana")

    token = ApiToken.objects.get()
    assert token.key_hash == hash_token(raw)
    stored = [str(v) for v in ApiToken.objects.values_list(*[f.attname for f in ApiToken._meta.fields]).get()]
    assert all(raw not in value for value in stored)
    assert all(token.key_hash not in line for line in before)


@pytest.mark.django_db
def test_issue_token_with_scope_and_expiry_stores_them() -> None:
    raw, _ = issue(
        "dana",
        "--business",
        "1001",
        "--phone",
        "15551110001",
        "US.7700001",
        "--phone",
        "1555",
        "--expires-days",
        "3",
    )

    token = ApiToken.objects.get()
    assert token.business_phone_number_id == "1001"
    assert token.phones == ["1555", "15551110001", "US.7700001"]
    assert token.expires_at is not None
    assert abs(token.expires_at - (datetime.now(UTC) + timedelta(days=3))) < timedelta(minutes=1)
    principal = authenticate_token(raw)
    assert principal is not None
    assert principal.scope == TokenScope(
        business="1001", customers=frozenset({"1555", "15551110001", "US.7700001"})
    )


@pytest.mark.django_db
def test_issue_token_existing_user_is_reused_with_a_new_token() -> None:
    user = User.objects.create_user("erin", password="x-password-9", is_staff=True)

    first, _ = issue("erin")
    second, _ = issue("erin")

    assert first != second
    assert User.objects.filter(username="erin").count() == 1
    assert ApiToken.objects.filter(user=user).count() == 2
    user.refresh_from_db()
    assert user.has_usable_password()


@pytest.mark.django_db
def test_issue_token_inactive_user_is_refused() -> None:
    User.objects.create_user("frank", is_active=False)

    with pytest.raises(CommandError, match="inactive"):
        issue("frank")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_issue_token_zero_expiry_days_is_refused() -> None:
    with pytest.raises(CommandError, match="expires-days"):
        issue("gina", "--expires-days", "0")
    assert not User.objects.filter(username="gina").exists()
