"""Internal notes in a conversation's thread: written by agents, broadcast as `note.created`."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.db import transaction

from store.auth import TokenScope
from store.errors import Forbidden, InvalidRequest
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.models import ConversationNote, WhatsAppConversation
from store.queries import get_conversation

MAX_NOTE_LENGTH = 10_000
_MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def require_team(scope: TokenScope, what: str = "Internal notes") -> None:
    """Notes (and the team's other tools) are for the team: a credential scoped to customers never reads
    or writes them."""
    if scope.customers:
        raise Forbidden(f"{what} are not available to a token scoped to customers.")


def mentioned_users(text: str) -> list[str]:
    """The active users named `@username` in `text`, in order of first mention."""
    names = list(dict.fromkeys(name.rstrip(".") for name in _MENTION.findall(text)))
    if not names:
        return []
    known = set(User.objects.filter(username__in=names, is_active=True).values_list("username", flat=True))
    return [name for name in names if name in known]


def add_note(
    scope: TokenScope, author: User, customer: str, business: str | None, text: str
) -> ConversationNote:
    require_team(scope)
    text = text.strip()
    if not text:
        raise InvalidRequest("A note needs some text.", code="empty_note")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidRequest(f"A note has at most {MAX_NOTE_LENGTH} characters.", code="note_too_long")
    with transaction.atomic():
        found = get_conversation(scope, customer, business)
        conversation = WhatsAppConversation.objects.select_for_update().get(pk=found.pk)
        note = ConversationNote.objects.create(
            conversation=conversation, author=author, text=text, mentions=mentioned_users(text)
        )
        append_events([PendingEvent("note.created", conversation, event_payload(conversation, note=note))])
        return note


def list_notes(scope: TokenScope, customer: str, business: str | None) -> list[ConversationNote]:
    require_team(scope)
    conversation = get_conversation(scope, customer, business)
    return list(conversation.team_notes.select_related("author").order_by("created_at", "id"))
