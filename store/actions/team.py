"""The team's side of a conversation: notes field, assignee, status, snooze and labels, in one change.

Each change that alters something logs one `conversation.updated` (docs/team-inbox.md); a snooze also
queues a job that reopens the conversation at `snoozed_until`, since nobody may write before then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import transaction

from store import jobs
from store.auth import TokenScope
from store.errors import InvalidRequest
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.labels import LabelError, normalise_labels
from store.models import ConversationStatus, Job, WhatsAppConversation
from store.queries import get_conversation

UNSNOOZE_JOB = "conversation.unsnooze"
EDITABLE = frozenset({"notes", "assignee", "status", "snoozed_until", "labels"})


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """The fields a PATCH named; absent ones are left alone (an explicit null clears the assignee)."""

    fields: Mapping[str, Any]


def active_staff(username: str) -> User:
    user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
    if user is None:
        raise InvalidRequest(f"No active staff user is called {username!r}.", code="invalid_assignee")
    return user


def _apply(conversation: WhatsAppConversation, fields: Mapping[str, Any], now: datetime) -> list[str]:
    """Set the named fields on `conversation`; returns the columns that changed."""
    changed: list[str] = []
    if "notes" in fields and fields["notes"] is not None and fields["notes"] != conversation.notes:
        conversation.notes = fields["notes"]
        changed.append("notes")
    if "assignee" in fields:
        name = fields["assignee"]
        assignee = active_staff(name) if name else None
        if (assignee.pk if assignee else None) != conversation.assignee_id:
            conversation.assignee = assignee
            changed.append("assignee")
    if "labels" in fields and fields["labels"] is not None:
        try:
            labels = normalise_labels(fields["labels"])
        except LabelError as error:
            raise InvalidRequest(str(error), code="invalid_label") from error
        if labels != conversation.labels:
            conversation.labels = labels
            changed.append("labels")
    status = fields.get("status") or conversation.status
    if status not in ConversationStatus.values:
        choices = ", ".join(ConversationStatus.values)
        raise InvalidRequest(f"status must be one of {choices}.", code="invalid_status")
    until = fields.get("snoozed_until", conversation.snoozed_until)
    if status == ConversationStatus.SNOOZED:
        if until is None or until <= now:
            raise InvalidRequest("A snooze needs a snoozed_until in the future.", code="invalid_snooze")
    else:
        until = None
    if status != conversation.status:
        conversation.status = status
        changed.append("status")
    if until != conversation.snoozed_until:
        conversation.snoozed_until = until
        changed.append("snoozed_until")
    return changed


def update_conversation(
    scope: TokenScope, customer: str, business: str | None, change: ConversationChange
) -> WhatsAppConversation:
    """Apply a PATCH to a customer's conversation under its row lock; logs only when something changed."""
    unknown = set(change.fields) - EDITABLE
    if unknown:
        raise InvalidRequest(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    now = datetime.now(UTC)
    with transaction.atomic():
        found = get_conversation(scope, customer, business)
        conversation = WhatsAppConversation.objects.select_for_update().get(pk=found.pk)
        changed = _apply(conversation, change.fields, now)
        if not changed:
            return conversation
        conversation.save(update_fields=[*changed, "updated_at"])
        if "snoozed_until" in changed and conversation.snoozed_until is not None:
            until = conversation.snoozed_until
            jobs.enqueue(
                UNSNOOZE_JOB,
                {"conversation": conversation.pk, "until": until.isoformat()},
                delay=until - now,
            )
        append_events([PendingEvent("conversation.updated", conversation, event_payload(conversation))])
        return conversation


def reopen_if_snooze_ended(conversation_id: int, until: datetime) -> bool:
    """Reopen a conversation whose snooze (the one ending at `until`) is over; False if it moved on."""
    with transaction.atomic():
        conversation = WhatsAppConversation.objects.select_for_update().filter(pk=conversation_id).first()
        if (
            conversation is None
            or conversation.status != ConversationStatus.SNOOZED
            or conversation.snoozed_until != until
            or until > datetime.now(UTC)
        ):
            return False
        conversation.status = ConversationStatus.OPEN
        conversation.snoozed_until = None
        conversation.save(update_fields=["status", "snoozed_until", "updated_at"])
        append_events([PendingEvent("conversation.updated", conversation, event_payload(conversation))])
        return True


async def reopen_snoozed_job(job: Job) -> None:
    """Called by the worker at `snoozed_until` for each `conversation.unsnooze` job."""
    conversation, until = job.payload.get("conversation"), job.payload.get("until")
    if isinstance(conversation, int) and isinstance(until, str):
        await sync_to_async(reopen_if_snooze_ended)(conversation, datetime.fromisoformat(until))
