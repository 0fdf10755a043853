"""Login throttling (django-axes): wrong passwords lock a user name out from one address until an admin
lifts the lockout in the admin."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt  # type: ignore[import-untyped]  # ships no type hints
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/console/"
PASSWORD = "the-right-password"


def log_in(client: Client, username: str, password: str) -> int:
    response = client.post(LOGIN, {"username": username, "password": password})
    return response.status_code


def test_login_wrong_passwords_lock_out_even_the_right_one_until_an_admin_lifts_it() -> None:
    User.objects.create_user("agent", password=PASSWORD, is_staff=True)
    admin_user = User.objects.create_superuser("boss", password="boss-password")
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    # The admin's form answers 200 (shown again with an error) while attempts remain.
    statuses = [log_in(attacker, "agent", f"guess-{n}") for n in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    # Locked out: the right password from that address is refused too, and nobody is logged in.
    assert log_in(attacker, "agent", PASSWORD) == 429
    assert "_auth_user_id" not in attacker.session
    # Another address is not locked out.
    assert log_in(Client(REMOTE_ADDR="198.51.100.7"), "agent", PASSWORD) == 302

    # The admin lifts it: "Access attempts" lists the lockout; deleting it lets the agent in again.
    boss = Client()
    boss.force_login(admin_user)
    attempt = AccessAttempt.objects.get(username="agent", ip_address="203.0.113.9")
    listing = boss.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert b"203.0.113.9" in listing.content
    deleted = boss.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert log_in(attacker, "agent", PASSWORD) == 302
    assert attacker.session["_auth_user_id"] == str(User.objects.get(username="agent").pk)
