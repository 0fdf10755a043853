"""Records one webhook's batch: messages, statuses and counters in one transaction, events after commit."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from store import jobs
from store.actions.auto_assign import assign_to_online_agents
from store.actions.autoreply_rules import enqueue_autoreplies
from store.actions.conversations import CustomerKey, lock_conversations, make_key
from store.actions.message_rows import (
    REOPENED_BY_CUSTOMER,
    apply_status,
    count_message,
    message_from_record,
    status_row,
)
from store.actions.normalise import normalised
from store.actions.send_result import adopt_wamids
from store.actions.templates import apply_template_statuses
from store.columns import clip_to_columns, fit
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.metrics import DUPLICATES_DROPPED
from store.models import (
    Direction,
    HubEvent,
    MediaStatus,
    WebhookEvent,
    WhatsAppBusinessNumber,
    WhatsAppConversation,
    WhatsAppMessage,
    WhatsAppMessageStatus,
)
from store.records import CustomerRecord, IdentityChange, IngestBatch, MessageRecord, StatusRecord

MEDIA_DOWNLOAD_JOB = "media.download"
# What ingest may change on a conversation.
CONVERSATION_FIELDS = [
    "contact_name",
    "username",
    "phone_number",
    "user_id",
    "message_count",
    "unread_count",
    "last_message_at",
    "last_inbound_at",
    "last_message_preview",
    "status",
    "snoozed_until",
    "assignee",
    "updated_at",
]


def customer_key(business_id: str, customer: CustomerRecord) -> CustomerKey:
    return make_key(business_id, customer.wa_id or None, customer.user_id or None)


def record_webhook_error(webhook_event_id: int, error: str) -> None:
    WebhookEvent.objects.filter(pk=webhook_event_id).update(error=error[:2000])


def record_batch(batch: IngestBatch, webhook_event_ids: Sequence[int] = ()) -> list[HubEvent]:
    """Apply parsed webhooks idempotently; returns the events it logged (none for a redelivery).

    `webhook_event_ids` are the stored raw bodies the batch came from, marked processed with it.
    """
    batch = normalised(batch)
    # Inside a caller's transaction (group commit) a savepoint would only cost two more round trips.
    with transaction.atomic(savepoint=False):
        # Template rows first: they are locked by nothing that also locks conversations or the sequence.
        apply_template_statuses(batch.templates)
        _record_businesses(batch)
        message_keys = [customer_key(m.business.phone_number_id, m.customer) for m in batch.messages]
        contact_keys = [customer_key(b.phone_number_id, c) for b, c in batch.customers]
        status_keys = [_status_key(s) for s in batch.statuses]
        # A redelivered message needs no conversation created for it (and after a number change, its
        # old number must not get a new, empty one).
        stored = _stored_wamids([m.wamid for m in batch.messages])
        conversations = lock_conversations(
            create=[
                k
                for k, m in zip(message_keys, batch.messages, strict=True)
                if (k[1] or k[2]) and m.wamid not in stored
            ],
            existing_only=[k for k in contact_keys + status_keys if k[1] or k[2]],
        )
        recorder = _BatchRecorder(conversations)
        for (_, customer), key in zip(batch.customers, contact_keys, strict=True):
            if key in conversations:
                recorder.update_customer(conversations[key], customer)
        recorder.record_messages(batch.messages, message_keys, stored)
        recorder.record_statuses(batch.statuses)
        if webhook_event_ids:
            WebhookEvent.objects.filter(pk__in=webhook_event_ids).update(
                processed_at=datetime.now(UTC), error=""
            )
        # Last: the event log's sequence row stays locked from here to the commit.
        return recorder.finish()


def _stored_wamids(wamids: list[str]) -> set[str]:
    if not wamids:
        return set()
    return set(WhatsAppMessage.objects.filter(message_id__in=wamids).values_list("message_id", flat=True))


def _status_key(status: StatusRecord) -> CustomerKey:
    recipient = status.recipient_id or None
    # A recipient id is a wa_id (digits) or, since 2026, a BSUID.
    if recipient and not recipient.isdigit():
        return make_key(status.business.phone_number_id, None, recipient)
    return make_key(status.business.phone_number_id, recipient, None)


def _record_businesses(batch: IngestBatch) -> None:
    seen = {b.phone_number_id: b for b in batch.businesses if b.phone_number_id}
    if seen:
        WhatsAppBusinessNumber.objects.bulk_create(
            [
                clip_to_columns(
                    WhatsAppBusinessNumber(
                        phone_number_id=b.phone_number_id,
                        display_phone_number=b.display_phone_number,
                        waba_id=b.waba_id,
                    )
                )
                for b in seen.values()
            ],
            ignore_conflicts=True,
        )


def _conversation_update_sql() -> tuple[str, list[Field[Any, Any]]]:
    meta = WhatsAppConversation._meta
    fields = [cast("Field[Any, Any]", meta.get_field(name)) for name in CONVERSATION_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Identifiers from the model's own metadata; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return sql, fields


def save_conversations(conversations: list[WhatsAppConversation]) -> None:
    """Write ingest's fields of each conversation: one plain UPDATE per row, sent as one batch.

    Django's bulk_update builds CASE expressions that cost more CPU, and one save() per row costs a
    model round trip each; psycopg pipelines an executemany into one round trip.
    """
    if not conversations:
        return
    now = timezone.now()
    sql, fields = _conversation_update_sql()
    rows = []
    for conversation in conversations:
        conversation.updated_at = now
        rows.append(
            [f.get_db_prep_save(getattr(conversation, f.attname), connection) for f in fields]
            + [conversation.pk]
        )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


class _BatchRecorder:
    """The state of one transaction: locked conversations, what changed, and the events to log."""

    def __init__(self, conversations: dict[CustomerKey, WhatsAppConversation]) -> None:
        self.conversations = conversations
        self.changed: dict[int, WhatsAppConversation] = {}
        self.announced: set[int] = set()
        self.claimed: set[tuple[str, str, str]] = set()
        # (type, conversation snapshot, message) in the order the changes happened.
        self.pending: list[tuple[str, WhatsAppConversation, WhatsAppMessage | None]] = []

    def update_customer(self, conversation: WhatsAppConversation, customer: CustomerRecord) -> None:
        fields = {
            "contact_name": customer.name,
            "username": customer.username,
            "phone_number": customer.wa_id,
            "user_id": customer.user_id,
        }
        for field, value in fields.items():
            value = fit(WhatsAppConversation, field, str(value)) if value else value
            if value and getattr(conversation, field) != value and self._may_fill(conversation, field, value):
                setattr(conversation, field, value)
                self.changed[conversation.pk] = conversation

    def _may_fill(self, conversation: WhatsAppConversation, field: str, value: str) -> bool:
        if field not in ("phone_number", "user_id"):
            return True
        # An identity is only added, never swapped, and only if no other conversation holds it: in the
        # database, or given to another conversation earlier in this batch (saved only at the end).
        claim = (conversation.business_phone_number_id, field, value)
        if getattr(conversation, field) or claim in self.claimed:
            return False
        taken = WhatsAppConversation.objects.filter(
            business_phone_number_id=conversation.business_phone_number_id, **{field: value}
        ).exists()
        if not taken:
            self.claimed.add(claim)
        return not taken

    def _move_identity(self, conversation: WhatsAppConversation, change: IdentityChange) -> None:
        """The customer changed number (or BSUID): their conversation follows them to the new identity.

        Unless another conversation already holds it; then both stay as they are, and the thread still
        shows the change as its system message.
        """
        field: str = change.field
        value = fit(WhatsAppConversation, field, change.value)
        claim = (conversation.business_phone_number_id, field, value)
        if getattr(conversation, field) == value or claim in self.claimed:
            return
        taken = WhatsAppConversation.objects.filter(
            business_phone_number_id=conversation.business_phone_number_id, **{field: value}
        ).exists()
        if not taken:
            self.claimed.add(claim)
            setattr(conversation, field, value)
            self.changed[conversation.pk] = conversation

    def record_messages(
        self, records: list[MessageRecord], keys: list[CustomerKey], stored: set[str]
    ) -> None:
        # Read again under the conversations' row locks, which every writer of them holds: safe as a
        # read-then-insert, with the unique wamid constraint as the backstop.
        known = stored | _stored_wamids([r.wamid for r in records if r.wamid not in stored])
        early_statuses = self._orphan_statuses([r.wamid for r in records if r.direction == "outbound"])
        new: list[tuple[WhatsAppMessage, WhatsAppConversation]] = []
        # New (no message yet) or reopened by the customer: what auto-assignment hands out.
        opened: dict[int, WhatsAppConversation] = {}
        for record, key in zip(records, keys, strict=True):
            conversation = self.conversations.get(key)
            if record.wamid in known or conversation is None:
                DUPLICATES_DROPPED.labels(kind="message").inc()
                continue
            known.add(record.wamid)
            if record.direction == "inbound":
                self.update_customer(conversation, record.customer)
            if record.new_identity is not None:
                self._move_identity(conversation, record.new_identity)
            message = message_from_record(record, conversation)
            for status in early_statuses.get(record.wamid, []):
                apply_status(message, status)
            if record.direction == "inbound" and (
                conversation.message_count == 0 or conversation.status in REOPENED_BY_CUSTOMER
            ):
                opened[conversation.pk] = conversation
            self._count(conversation, message)
            new.append((message, conversation))
        # Before the events below copy the conversations: the assignee travels with the message.
        assign_to_online_agents(list(opened.values()))
        created = WhatsAppMessage.objects.bulk_create([m for m, _ in new])
        # Meta's media URLs expire: the download is a durable job queued in this same transaction.
        jobs.enqueue_many(
            MEDIA_DOWNLOAD_JOB,
            [
                ({"message_id": m.pk}, f"media:{m.pk}")
                for m in created
                if m.media_status == MediaStatus.PENDING
            ],
        )
        enqueue_autoreplies(created)
        for message, (_, conversation) in zip(created, new, strict=True):
            self.pending.append(("message.created", copy.copy(conversation), message))
            self.announced.add(conversation.pk)
        if early_statuses:
            by_wamid = {m.message_id: m.pk for m in created}
            for wamid, pk in by_wamid.items():
                if wamid in early_statuses:
                    WhatsAppMessageStatus.objects.filter(wamid=wamid, message=None).update(message_id=pk)
        for record in records:
            if record.change is not None:
                self._apply_change(record)

    def _orphan_statuses(self, wamids: list[str]) -> dict[str, list[WhatsAppMessageStatus]]:
        found: dict[str, list[WhatsAppMessageStatus]] = {}
        if wamids:
            for status in WhatsAppMessageStatus.objects.filter(wamid__in=wamids, message=None):
                found.setdefault(status.wamid, []).append(status)
        return found

    def _count(self, conversation: WhatsAppConversation, message: WhatsAppMessage) -> None:
        count_message(conversation, message)
        self.changed[conversation.pk] = conversation

    def _apply_change(self, record: MessageRecord) -> None:
        change = record.change
        assert change is not None
        target = WhatsAppMessage.objects.select_for_update().filter(message_id=change.target_wamid).first()
        if target is None:
            return
        if change.kind == "edit" and (target.text_body != change.text_body or target.edited_at is None):
            target.text_body = change.text_body
            target.edited_at = record.timestamp
            target.save(update_fields=["text_body", "edited_at"])
        elif change.kind == "revoke" and target.revoked_at is None:
            # The customer deleted it for everyone: keep the row, drop the content.
            target.text_body = ""
            target.caption = ""
            target.content = {}
            target.revoked_at = record.timestamp
            target.save(update_fields=["text_body", "caption", "content", "revoked_at"])
        else:
            return
        self._message_updated(target)

    def record_statuses(self, records: list[StatusRecord]) -> None:
        if not records:
            return
        wamids = {r.wamid for r in records}
        # A status reports on a message the business sent: one naming an inbound message's id (a relay's
        # mistake, or a forged id) is kept as a row but never moves the customer's message.
        messages = {
            m.message_id: m
            for m in WhatsAppMessage.objects.select_for_update()
            .filter(message_id__in=wamids, direction=Direction.OUTBOUND)
            .order_by("pk")
        }
        # A send whose answer was lost is known to Meta's statuses by the callback data the hub set.
        messages |= adopt_wamids(
            (r.wamid, r.biz_opaque_callback_data) for r in records if r.wamid not in messages
        )
        known_rows = set(
            WhatsAppMessageStatus.objects.filter(wamid__in=wamids).values_list("wamid", "status")
        )
        rows = []
        for record in records:
            if (record.wamid, record.status) in known_rows:
                DUPLICATES_DROPPED.labels(kind="status").inc()
                continue
            known_rows.add((record.wamid, record.status))
            message = messages.get(record.wamid)
            row = status_row(record, message)
            rows.append(row)
            if message is not None and apply_status(message, row):
                message.save(update_fields=["status", "error_code", "error_title"])
                self._message_updated(message)
        WhatsAppMessageStatus.objects.bulk_create(rows, ignore_conflicts=True)

    def _message_updated(self, message: WhatsAppMessage) -> None:
        conversation = self._conversation_of(message)
        self.pending.append(("message.updated", copy.copy(conversation), message))
        self.announced.add(conversation.pk)

    def _conversation_of(self, message: WhatsAppMessage) -> WhatsAppConversation:
        for conversation in self.conversations.values():
            if conversation.pk == message.conversation_id:
                return conversation
        return message.conversation

    def finish(self) -> list[HubEvent]:
        save_conversations(list(self.changed.values()))
        pending = [
            PendingEvent(type=kind, conversation=conv, payload=event_payload(conv, message))  # type: ignore[arg-type]
            for kind, conv, message in self.pending
        ]
        pending += [
            PendingEvent(type="conversation.updated", conversation=conv, payload=event_payload(conv))
            for pk, conv in self.changed.items()
            if pk not in self.announced
        ]
        return append_events(pending)
