"""Webhook POSTs from verified bytes to answers: store raw, parse, ingest (synchronous, one thread).

The ASGI endpoint (webhook/endpoint.py) verifies each signature, then group commit (group_commit.py)
hands over every POST that arrived while the previous transaction ran, and they
are written in one transaction (group commit): a transaction's fixed cost (statements, locks, the
commit's flush) is shared, and each POST still gets its own answer only once its rows are committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, close_old_connections, transaction

from store.actions.autoreply_rules import CallAttempt, record_call_attempts
from store.actions.record import record_batch
from store.availability import database
from store.columns import storable_text
from store.models import WebhookEvent
from store.records import IngestBatch
from webhook.calls import call_attempts_from_payload
from webhook.chunking import BIG_BODY_BYTES, RECORD_CHUNK, chunks, size
from webhook.ingest import batch_from_payload
from webhook.memory import release_memory
from webhook.payload import PayloadError, parse_webhook
from webhook.signature import verify_signature

logger = logging.getLogger(__name__)

OK = {"status": "ok"}
# The most POSTs one transaction takes: bounds its size and the lock time it holds.
MAX_GROUP = 32


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, str] = field(default_factory=lambda: dict(OK))
    # Seconds, sent as `Retry-After` (a 503 that asks Meta to come back later).
    retry_after: int | None = None


def error(status: int, code: str, detail: str) -> Answer:
    return Answer(status, {"error": code, "detail": detail})


# Meta retries anything but a 200 for days, so answering 503 loses nothing.
DATABASE_UNAVAILABLE = error(503, "database_unavailable", "The database is unreachable; retry later.")
QUEUE_FULL = Answer(
    503,
    {"error": "busy", "detail": "Too many webhooks are waiting to be written; retry later."},
    retry_after=5,
)
INVALID_SIGNATURE = error(403, "invalid_signature", "X-Hub-Signature-256 is missing or wrong.")
# A verified body the hub cannot record as it is: Meta would redeliver it unchanged for days, so it is
# kept raw, marked failed for `manage.py reprocess --failed`, and acknowledged.
KEPT_FOR_REPROCESS = Answer(
    200, {"status": "kept", "detail": "Stored raw; it could not be recorded and is kept for reprocessing."}
)

Delivery = tuple[bytes, str | None]  # (raw body, X-Hub-Signature-256)


def receive_verified_outside_request(bodies: Sequence[bytes]) -> list[Answer]:
    """`receive_verified` for a caller outside Django's request cycle: hands the connection back after."""
    try:
        return receive_verified(bodies)
    finally:
        close_old_connections()


def receive_updates(deliveries: Sequence[Delivery]) -> list[Answer]:
    """One answer per POST, in order; the verified ones are ingested together."""
    answers: list[Answer] = [INVALID_SIGNATURE] * len(deliveries)
    verified = [index for index, (body, signature) in enumerate(deliveries) if is_signed(body, signature)]
    for index, answer in zip(verified, receive_verified([deliveries[i][0] for i in verified]), strict=True):
        answers[index] = answer
    return answers


def is_signed(body: bytes, signature: str | None) -> bool:
    return verify_signature(settings.WHATSAPP_APP_SECRET, body, signature)


def receive_verified(bodies: Sequence[bytes]) -> list[Answer]:
    """Store raw, parse and ingest bodies whose signatures are already verified, in one transaction."""
    if not database.reachable():
        # Meta retries: better now than after the pool's whole wait for a connection.
        return [DATABASE_UNAVAILABLE] * len(bodies)
    return _ingest(list(bodies))


def _ingest(bodies: list[bytes], *, retry: bool = True) -> list[Answer]:
    if not bodies:
        return []
    if len(bodies) > 1 and any(len(body) >= BIG_BODY_BYTES for body in bodies):
        return _ingest_big_apart(bodies)
    try:
        answers, calls, rest = _ingest_in_one_transaction(bodies)
        if rest is not None:
            _record_rest(*rest)
    except (DataError, IntegrityError) as refused:
        # A value or a constraint the database refuses: the body's fault, not the database's.
        if len(bodies) > 1:
            # Find the body that holds it, and let the others through.
            return [answer for body in bodies for answer in _ingest([body])]
        if retry and isinstance(refused, IntegrityError):
            # A concurrent writer may have inserted the same row first: the second try sees it.
            return _ingest(bodies, retry=False)
        logger.error("webhook not storable: %s", type(refused).__name__)
        return [_store_refused(bodies[0], f"not storable: {refused}")]
    except DatabaseError:
        logger.warning("webhooks not stored: database unavailable", exc_info=True)
        database.report_outage()
        return [DATABASE_UNAVAILABLE] * len(bodies)
    except Exception as failure:
        if len(bodies) > 1:
            return [answer for body in bodies for answer in _ingest([body])]
        # A bug, not the body's fault, and it would recur on every redelivery: keep the raw body for
        # `reprocess --failed` once fixed, and answer 200 so that Meta stops redelivering it.
        logger.exception("webhook not recorded")
        return [_store_refused(bodies[0], f"ingest failed: {type(failure).__name__}")]
    for index, attempts in calls:
        if not _record_calls(attempts):
            # Redelivery records them (everything else it carries is already stored, once).
            answers[index] = DATABASE_UNAVAILABLE
    return answers


def _ingest_in_one_transaction(
    bodies: list[bytes],
) -> tuple[list[Answer], list[tuple[int, list[CallAttempt]]], Rest | None]:
    """Store every raw body first, then parse and record them; all of it commits or none.

    The rows go in marked processed (the mark commits with what they recorded, or not at all), so only
    a body that fails to parse costs another statement.
    """
    answers: list[Answer] = []
    calls: list[tuple[int, list[CallAttempt]]] = []
    merged = IngestBatch()
    rest: Rest | None = None
    with transaction.atomic():
        now = datetime.now(UTC)
        events = WebhookEvent.objects.bulk_create(
            [WebhookEvent(body=body, body_sha256=body_digest(body), processed_at=now) for body in bodies]
        )
        for event, body in zip(events, bodies, strict=True):
            try:
                payload = parse_webhook(json.loads(body))
            except (ValueError, RecursionError, PayloadError) as problem:
                # RecursionError: json.loads gives up on deeply nested input (about 1,000 levels).
                reason = f"not a WhatsApp webhook body: {problem}"
                WebhookEvent.objects.filter(pk=event.pk).update(
                    error=storable_text(reason)[:2000], processed_at=None
                )
                answers.append(error(400, "invalid_payload", reason))
                continue
            merged.extend(batch_from_payload(payload))
            if attempts := call_attempts_from_payload(payload):
                calls.append((len(answers), attempts))
            answers.append(Answer(200))
        if size(merged) <= RECORD_CHUNK:
            record_batch(merged)
        else:
            # One big body: a transaction per chunk bounds the models and events held at once. Until the
            # last commits, the body stays unprocessed (`reprocess`, or Meta's redelivery, finishes it).
            parts = chunks(merged)
            record_batch(next(parts))
            WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(processed_at=None)
            rest = ([e.pk for e in events], parts)
    return answers, calls, rest


Rest = tuple[list[int], Iterator[IngestBatch]]  # (raw rows to mark processed, chunks still to record)


def _record_rest(event_ids: list[int], parts: Iterator[IngestBatch]) -> None:
    for part in parts:
        with transaction.atomic():
            record_batch(part)
    WebhookEvent.objects.filter(pk__in=event_ids).update(processed_at=datetime.now(UTC))
    release_memory()


def _ingest_big_apart(bodies: list[bytes]) -> list[Answer]:
    """The small bodies of a group together, each big one in its own transactions; answers in order."""
    small = [i for i, body in enumerate(bodies) if len(body) < BIG_BODY_BYTES]
    answers: dict[int, Answer] = dict(zip(small, _ingest([bodies[i] for i in small]), strict=True))
    for index, body in enumerate(bodies):
        if index not in answers:
            answers[index] = _ingest([body])[0]
    return [answers[i] for i in range(len(bodies))]


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _record_calls(calls: list[CallAttempt]) -> bool:
    # Its own transaction: it may lock conversations, which must never follow the sequence lock.
    try:
        record_call_attempts(calls)
    except DatabaseError:
        logger.warning("call replies not queued: database error", exc_info=True)
        return False
    return True


def _store_refused(body: bytes, reason: str) -> Answer:
    """Keep a body whose ingest failed, with the reason (`reprocess --failed` finds it)."""
    try:
        WebhookEvent.objects.create(
            body=body, body_sha256=body_digest(body), error=storable_text(reason)[:2000]
        )
    except DatabaseError:
        logger.warning("webhook not stored: database unavailable", exc_info=True)
        return DATABASE_UNAVAILABLE
    return KEPT_FOR_REPROCESS
