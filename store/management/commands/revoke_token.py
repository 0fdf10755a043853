"""`manage.py revoke_token PREFIX... | --user USERNAME`: expire tokens now; their sockets close with 4401."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from store.auth import TOKEN_PREFIX, hash_token
from store.credentials import revoke_tokens
from store.models import ApiToken

# The admin lists `prefix` (`wah_` and 6 characters); a whole token is much longer.
PREFIX_MAX_LENGTH = 12


class Command(BaseCommand):
    help = (
        "Revoke API tokens: each named by the prefix the admin lists (e.g. wah_AbC123) or by the whole "
        "token, or every token of --user. Requests with them get 401 at once; sockets holding them close "
        "with 4401 within HUB_SOCKET_RECHECK_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tokens", nargs="*", metavar="PREFIX_OR_TOKEN")
        parser.add_argument("--user", metavar="USERNAME", help="Every token of this user.")

    def handle(self, *args: Any, **options: Any) -> None:
        named: list[str] = [t.strip() for t in options["tokens"] if t.strip()]
        username: str | None = options["user"]
        if not named and not username:
            raise CommandError("Name tokens by prefix or whole, or give --user.")
        query = Q()
        for value in named:
            if not value.startswith(TOKEN_PREFIX):
                raise CommandError(f"{value[:10]!r} is not a token or a token prefix ({TOKEN_PREFIX}…).")
            if len(value) <= PREFIX_MAX_LENGTH:
                matches = ApiToken.objects.filter(prefix=value).count()
                if matches > 1:
                    raise CommandError(f"{value} names {matches} tokens; give the whole token.")
                if matches == 0:
                    raise CommandError(f"No token has the prefix {value}.")
                query |= Q(prefix=value)
            else:
                if not ApiToken.objects.filter(key_hash=hash_token(value)).exists():
                    raise CommandError(f"No token {value[:10]}… is known.")
                query |= Q(key_hash=hash_token(value))
        if username:
            query |= Q(user__username=username)
        tokens = ApiToken.objects.filter(query)
        matched = tokens.count()
        revoked = revoke_tokens(tokens)
        self.stdout.write(f"Revoked {revoked} token(s); {matched - revoked} were already expired or revoked.")
