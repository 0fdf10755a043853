"""`manage.py reprocess`: run stored raw webhook bodies through the parser and the store again."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from store.actions.message_content import fill_message_content
from store.actions.record import record_batch, record_webhook_error
from store.models import WebhookEvent
from webhook.ingest import batch_from_payload
from webhook.payload import PayloadError, parse_webhook

logger = logging.getLogger(__name__)


@dataclass
class Tally:
    events: int = 0
    recorded: int = 0
    # Bodies that logged at least one HubEvent: news the first time round, none on a redelivery.
    with_events: int = 0
    invalid: int = 0
    database_errors: int = 0

    def summary(self) -> str:
        return (
            f"{self.events} events: {self.recorded} recorded ({self.with_events} with new events), "
            f"{self.invalid} not WhatsApp webhooks, "
            f"{self.database_errors} database errors"
        )


class Command(BaseCommand):
    help = (
        "Re-run stored WebhookEvents through the parser and the store, as the webhook does: idempotent, "
        "so a body already recorded changes nothing. Every event by default; --failed takes those never "
        "processed or that ended in an error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--failed", action="store_true", help="only unprocessed or errored events")
        parser.add_argument("--since", help="only events received at or after this ISO 8601 time")
        parser.add_argument("--id", type=int, nargs="+", dest="ids", metavar="N", help="only these events")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _since(options["since"])
        events = select_events(failed=options["failed"], since=since, ids=options["ids"])
        tally = Tally()
        verbose = options["verbosity"] >= 2
        for event_id in events.order_by("id").values_list("id", flat=True).iterator():
            tally.events += 1
            reprocess_event(event_id, tally)
            if verbose and tally.events % 100 == 0:
                self.stdout.write(tally.summary())
        self.stdout.write(tally.summary())
        if tally.database_errors:
            raise CommandError(f"{tally.database_errors} events could not be recorded; run again later.")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise CommandError(
            f"--since needs an ISO 8601 time with a zone, e.g. 2026-01-31T12:00:00Z; got {value}"
        )
    return moment


def select_events(*, failed: bool, since: datetime | None, ids: list[int] | None) -> QuerySet[WebhookEvent]:
    events = WebhookEvent.objects.all()
    if failed:
        events = events.filter(Q(processed_at__isnull=True) | ~Q(error=""))
    if since is not None:
        events = events.filter(received_at__gte=since)
    if ids:
        events = events.filter(pk__in=ids)
    return events


def reprocess_event(event_id: int, tally: Tally) -> None:
    """Parse and record one stored body, marking it processed or errored as the webhook view does."""
    event = WebhookEvent.objects.get(pk=event_id)
    try:
        payload = parse_webhook(json.loads(bytes(event.body)))
    except (ValueError, PayloadError) as error:
        record_webhook_error(event.pk, f"not a WhatsApp webhook body: {error}")
        tally.invalid += 1
        return
    try:
        # Meta's own timestamps win; the time the body arrived stands in for a missing one.
        batch = batch_from_payload(payload, received_at=event.received_at)
        logged = record_batch(batch, webhook_event_ids=[event.pk])
        # Messages recorded before the hub kept their content get it now.
        logged += fill_message_content(batch.messages)
    except DatabaseError:
        logger.warning("webhook %s not reprocessed: database error", event.pk, exc_info=True)
        tally.database_errors += 1
        return
    tally.recorded += 1
    tally.with_events += bool(logged)
