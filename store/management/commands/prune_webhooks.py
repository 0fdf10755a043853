"""`manage.py prune_webhooks [--days N]`: drop recorded raw webhook bodies past the retention period.

A body whose parse or recording failed stays until `reprocess` records it, whatever its age. Copies a
redelivery left of a recorded body go whatever their age: the first copy is the one kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Min, Q, QuerySet

from store.models import WebhookEvent

DEFAULT_BATCH_SIZE = 5000


class Command(BaseCommand):
    help = (
        "Delete raw webhook bodies recorded more than --days ago (default HUB_WEBHOOK_RETENTION_DAYS), "
        "and the extra copies of a redelivered body. A body whose parse or recording failed is kept "
        "until reprocessed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="retention in days")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per DELETE")

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = settings.HUB_WEBHOOK_RETENTION_DAYS if options["days"] is None else options["days"]
        batch_size: int = options["batch_size"]
        if days < 0:
            raise CommandError("--days must be zero or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        old, copies = prune_webhooks(datetime.now(UTC) - timedelta(days=days), batch_size)
        self.stdout.write(
            f"Deleted {old} webhook bodies older than {days} days and {copies} redelivered copies."
        )


def recorded() -> QuerySet[WebhookEvent]:
    """Bodies that were parsed and recorded: nothing in them is waiting for `reprocess`."""
    return WebhookEvent.objects.filter(processed_at__isnull=False, error="")


def prune_webhooks(cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> tuple[int, int]:
    """(bodies deleted for age, redelivered copies deleted), a batch per statement (short locks)."""
    old = _delete_in_batches(recorded().filter(received_at__lt=cutoff), batch_size)
    firsts = (
        WebhookEvent.objects.exclude(body_sha256="")
        .values("body_sha256")
        .annotate(first=Min("pk"))
        .values_list("first", flat=True)
    )
    copies = recorded().exclude(body_sha256="").exclude(Q(pk__in=firsts))
    return old, _delete_in_batches(copies, batch_size)


def _delete_in_batches(rows: QuerySet[WebhookEvent], batch_size: int) -> int:
    total = 0
    while True:
        pks = list(rows.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        deleted, _ = WebhookEvent.objects.filter(pk__in=pks).delete()
        total += deleted
