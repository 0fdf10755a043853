"""`python manage.py sync_templates`: fetch the account's message templates from Meta into the table."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outbound.graph import GraphError
from outbound.templates import sync_templates


class Command(BaseCommand):
    help = "Fetch every message template of the WhatsApp Business Account and update the template table."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--waba", default=None, help="the WABA id (default: WHATSAPP_BUSINESS_ACCOUNT_ID)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        waba_id = options["waba"] or settings.WHATSAPP_BUSINESS_ACCOUNT_ID
        if not waba_id:
            raise CommandError("Set WHATSAPP_BUSINESS_ACCOUNT_ID or give --waba.")
        try:
            # async_to_sync: the table is written on this thread, in its connection (a caller's transaction).
            result = async_to_sync(sync_templates)(waba_id)
        except GraphError as error:
            raise CommandError(f"Meta refused the template list: {error}") from error
        self.stdout.write(
            f"templates of {waba_id}: {result.created} new, {result.updated} changed, "
            f"{result.unchanged} unchanged, {result.deleted} no longer listed"
        )
