"""Decides auto-replies inside the ingest transaction and queues each as a durable, deduplicated job.

The rules (first contact, out of hours, call attempts) live here; the job that sends lives in
outbound/autoreply.py. A rule's dedupe key names what it answers (`autoreply:first:<conversation>`,
`autoreply:hours:<conversation>:<next opening>`, `autoreply:call:<call id>`), so a redelivered webhook,
a second message or a crash never sends the same auto-reply twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction

from store import jobs
from store.actions.conversations import CustomerKey, lock_conversations, make_key
from store.eventlog import PendingEvent, append_events
from store.events import CUSTOMER_SERVICE_WINDOW, event_payload
from store.models import Direction, WhatsAppConversation, WhatsAppMessage

logger = logging.getLogger(__name__)

AUTOREPLY_JOB = "autoreply.send"
# Nothing a customer would expect an answer to: reactions, number changes, what WhatsApp cannot show.
SILENT_TYPES = frozenset({"reaction", "system", "unsupported", "errors"})
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


class BusinessHoursError(ValueError):
    """HUB_BUSINESS_HOURS cannot be read."""


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening intervals per weekday (0 = Monday) in the business's time zone."""

    zone: ZoneInfo
    weekly: dict[int, list[tuple[time, time]]] = field(default_factory=dict)

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return any(start <= local.time() < end for start, end in self.weekly.get(local.weekday(), []))

    def next_opening(self, moment: datetime) -> datetime | None:
        """The first opening at or after `moment`; it names the out-of-hours period `moment` lies in."""
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for start, _ in sorted(self.weekly.get(day.weekday(), [])):
                opening = datetime.combine(day, start, self.zone)
                if opening >= local:
                    return opening.astimezone(UTC)
        return None


def parse_business_hours(spec: str, zone_name: str = "UTC") -> BusinessHours:
    """`mon-fri 09:00-17:00, sat 10:00-13:00` (comma or semicolon separated) in the IANA zone given."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise BusinessHoursError(f"unknown time zone {zone_name!r}") from error
    weekly: dict[int, list[tuple[time, time]]] = {}
    for part in re.split(r"[,;]", spec.lower()):
        part = " ".join(part.split())
        if not part:
            continue
        match = _RANGE.match(part)
        if match is None:
            raise BusinessHoursError(f"cannot read {part!r}; write e.g. 'mon-fri 09:00-17:00'")
        first, _, last = match["days"].partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise BusinessHoursError(f"unknown day in {part!r}")
        start, end = _clock(match["start"]), _clock(match["end"])
        if start >= end:
            raise BusinessHoursError(f"{part!r} closes before it opens")
        begin, stop = DAYS.index(first), DAYS.index(last or first)
        for offset in range((stop - begin) % 7 + 1):
            weekly.setdefault((begin + offset) % 7, []).append((start, end))
    return BusinessHours(zone, weekly)


def _clock(text: str) -> time:
    hours, minutes = (int(n) for n in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    try:
        return time(hours, minutes)
    except ValueError as error:
        raise BusinessHoursError(f"{text!r} is not a time of day") from error


@lru_cache(maxsize=4)
def _configured_hours(spec: str, zone_name: str) -> BusinessHours | None:
    try:
        return parse_business_hours(spec, zone_name)
    except BusinessHoursError as error:
        logger.error("HUB_BUSINESS_HOURS ignored, out-of-hours replies are off: %s", error)
        return None


def business_hours() -> BusinessHours | None:
    spec = settings.HUB_BUSINESS_HOURS
    return _configured_hours(spec, settings.HUB_BUSINESS_TIMEZONE) if spec else None


def enqueue_autoreplies(created: Sequence[WhatsAppMessage], now: datetime | None = None) -> None:
    """Queue the auto-replies that messages just stored in this transaction call for."""
    first_text, hours_text = settings.HUB_AUTOREPLY_FIRST_CONTACT, settings.HUB_AUTOREPLY_OUT_OF_HOURS
    if not first_text and not hours_text:
        return
    moment = now or datetime.now(UTC)
    # A message Meta redelivers days later gets no auto-reply: its moment has passed.
    inbound = sorted(
        (
            m
            for m in created
            if m.direction == Direction.INBOUND
            and m.read_at is None
            and m.message_type not in SILENT_TYPES
            and moment - m.timestamp < CUSTOMER_SERVICE_WINDOW
        ),
        key=lambda m: (m.timestamp, m.pk),
    )
    if not inbound:
        return
    items: list[tuple[dict[str, Any], str]] = []
    if first_text:
        items += _first_contact(inbound, created, first_text)
    hours = business_hours() if hours_text else None
    if hours is not None and hours_text:
        items += _out_of_hours(inbound, hours, hours_text)
    # One job per key even when a batch holds several messages of one period.
    jobs.enqueue_many(
        AUTOREPLY_JOB, [(payload, key) for key, payload in dict((k, p) for p, k in items).items()]
    )


def _first_contact(
    inbound: list[WhatsAppMessage], created: Sequence[WhatsAppMessage], text: str
) -> list[tuple[dict[str, Any], str]]:
    """The first message of a conversation nobody had written in before this batch."""
    conversation_ids = {m.conversation_id for m in inbound}
    known = set(
        WhatsAppMessage.objects.filter(conversation_id__in=conversation_ids)
        .exclude(pk__in=[m.pk for m in created])
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    items = []
    for message in inbound:
        if message.conversation_id not in known:
            known.add(message.conversation_id)
            key = f"autoreply:first:{message.conversation_id}"
            items.append((_payload(message.conversation_id, "first_contact", text, message), key))
    return items


def _out_of_hours(
    inbound: list[WhatsAppMessage], hours: BusinessHours, text: str
) -> list[tuple[dict[str, Any], str]]:
    items = []
    for message in inbound:
        if hours.is_open(message.timestamp):
            continue
        opening = hours.next_opening(message.timestamp)
        period = opening.strftime("%Y%m%dT%H%MZ") if opening else "closed"
        key = f"autoreply:hours:{message.conversation_id}:{period}"
        items.append((_payload(message.conversation_id, "out_of_hours", text, message), key))
    return items


def _payload(conversation_id: int, rule: str, text: str, message: WhatsAppMessage) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "rule": rule, "text": text, "message_id": message.pk}


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAttempt:
    """A customer's call to a business number (Meta's `calls` webhook field, event `connect`)."""

    business_phone_number_id: str
    call_id: str
    timestamp: datetime
    wa_id: str | None = None
    user_id: str | None = None


def _open_windows(
    calls: Sequence[CallAttempt],
    keys: Sequence[CustomerKey],
    conversations: dict[CustomerKey, WhatsAppConversation],
) -> None:
    """A customer's call opens the 24-hour window as a message does (Meta counts calls too)."""
    changed: dict[int, WhatsAppConversation] = {}
    for call, key in zip(calls, keys, strict=True):
        conversation = conversations[key]
        if conversation.last_inbound_at is None or call.timestamp > conversation.last_inbound_at:
            conversation.last_inbound_at = call.timestamp
            changed[conversation.pk] = conversation
    for conversation in changed.values():
        conversation.save(update_fields=["last_inbound_at", "updated_at"])
    append_events(
        [
            PendingEvent("conversation.updated", conversation, event_payload(conversation))
            for conversation in changed.values()
        ]
    )


def record_call_attempts(calls: Sequence[CallAttempt], now: datetime | None = None) -> int:
    """Queue the call-instructions reply once per call; returns how many were queued.

    The caller's conversation is created if needed, so the reply has somewhere to be stored. A call
    reported again (Meta's `connect` then `terminate`, or a redelivery) queues nothing more.
    """
    text = settings.HUB_AUTOREPLY_CALL
    moment = now or datetime.now(UTC)
    recent = [
        c
        for c in calls
        if c.call_id and (c.wa_id or c.user_id) and moment - c.timestamp < CUSTOMER_SERVICE_WINDOW
    ]
    if not recent:
        return 0
    queued = 0
    with transaction.atomic():
        keys = [make_key(c.business_phone_number_id, c.wa_id, c.user_id) for c in recent]
        conversations = lock_conversations(create=keys)
        _open_windows(recent, keys, conversations)
        for call, key in zip(recent, keys, strict=True):
            conversation = conversations[key]
            if not text:
                continue
            payload = {
                "conversation_id": conversation.pk,
                "rule": "call",
                "text": text,
                "call_id": call.call_id,
            }
            dedupe = f"autoreply:call:{call.call_id}"[:255]
            if jobs.enqueue(AUTOREPLY_JOB, payload, dedupe_key=dedupe) is not None:
                queued += 1
    return queued
