"""`manage.py issue_token USERNAME`: a new API token, printed alone on the last line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from store.auth import issue_token


class Command(BaseCommand):
    help = (
        "Issue an API token for USERNAME (created if needed: active, not staff, no password). Without "
        "--business or --phone the token reads and writes every conversation. The token is printed alone "
        "on the last line; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--business", metavar="PHONE_NUMBER_ID", help="Only this business number.")
        parser.add_argument(
            "--phone",
            metavar="N",
            nargs="+",
            action="extend",
            default=[],
            help="Only these customers (wa_id or BSUID); may be repeated.",
        )
        parser.add_argument("--expires-days", type=int, metavar="N", help="Expire after N days.")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        business: str | None = options["business"] or None
        phones: list[str] = [p.strip() for p in options["phone"] if p.strip()]
        days: int | None = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": False})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        elif not user.is_active:
            raise CommandError(f"User {username!r} is inactive; its tokens would not authenticate.")
        expires_at = datetime.now(UTC) + timedelta(days=days) if days is not None else None
        raw = issue_token(user, business=business, customers=phones, expires_at=expires_at)
        self.stdout.write(f"{'Created user' if created else 'User'} {username!r}; new token:")
        self.stdout.write(f"  business: {business or 'every business number'}")
        self.stdout.write(f"  customers: {', '.join(sorted(set(phones))) or 'every customer'}")
        self.stdout.write(f"  expires: {expires_at.isoformat() if expires_at else 'never'}")
        self.stdout.write(raw)
