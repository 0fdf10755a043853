"""`manage.py prune_events [--days N]`: drop HubEvents past the retention period, in batches.

Between batches the command pauses (`--pause`, 0.1 s by default): each DELETE competes with the
ingest's commits for the write-ahead log and the cores, and a nightly prune has time to spare
(docs/performance.md, `eventlog.prune`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from store.models import HubEvent

DEFAULT_BATCH_SIZE = 2000
DEFAULT_PAUSE_SECONDS = 0.1


class Command(BaseCommand):
    help = (
        "Delete HubEvents older than --days (default HUB_EVENT_RETENTION_DAYS). The newest event is always "
        "kept, so the log knows its high-water seq; clients asking to replay from before the oldest kept "
        "event are told to resync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="retention in days")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per DELETE")
        parser.add_argument(
            "--pause", type=float, default=DEFAULT_PAUSE_SECONDS, help="seconds to wait between batches"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = settings.HUB_EVENT_RETENTION_DAYS if options["days"] is None else options["days"]
        batch_size: int = options["batch_size"]
        pause: float = options["pause"]
        if days < 0:
            raise CommandError("--days must be zero or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if pause < 0:
            raise CommandError("--pause must be zero or more.")
        deleted = prune_events(datetime.now(UTC) - timedelta(days=days), batch_size, pause)
        self.stdout.write(f"Deleted {deleted} events older than {days} days.")


def prune_events(cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE, pause: float = 0.0) -> int:
    """Delete events created before `cutoff`, oldest first, a batch per statement (short locks), waiting
    `pause` seconds after each batch that was not the last."""
    newest = HubEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    if newest is None:
        return 0
    old = HubEvent.objects.filter(created_at__lt=cutoff, seq__lt=newest)
    total = 0
    while True:
        seqs = list(old.order_by("seq").values_list("seq", flat=True)[:batch_size])
        if not seqs:
            return total
        deleted, _ = old.filter(seq__gte=seqs[0], seq__lte=seqs[-1]).delete()
        total += deleted
        if len(seqs) < batch_size:
            return total
        if pause:
            time.sleep(pause)
