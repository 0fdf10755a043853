"""Auto-assignment (`HUB_AUTO_ASSIGN=round_robin`): a new or reopened conversation goes to an online agent.

Run by ingest inside its transaction, on conversations it holds locked, before the events are built:
the assignment travels in the same `message.created` (or `conversation.updated`) event as the message
that opened the conversation, with its `seq`, and replays like any other change.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count

from store.models import ConversationStatus, WhatsAppConversation
from store.online_agents import online_agents

ROUND_ROBIN = "round_robin"


def auto_assign_enabled() -> bool:
    return settings.HUB_AUTO_ASSIGN == ROUND_ROBIN


def assign_to_online_agents(conversations: Sequence[WhatsAppConversation]) -> None:
    """Give each conversation to the online agent with the fewest open conversations assigned to them.

    Ties go to the first username, and each assignment counts for the next, so agents take turns. A
    reopened conversation whose assignee is online stays theirs. With nobody online nothing changes.
    The rows change in memory; the caller saves them with the rest of its changes.
    """
    if not conversations or not auto_assign_enabled():
        return
    online = online_agents()
    if not online:
        return
    agents = list(
        User.objects.filter(username__in=online, is_active=True, is_staff=True).order_by("username")
    )
    if not agents:
        return
    load = dict(
        WhatsAppConversation.objects.filter(assignee__in=agents, status=ConversationStatus.OPEN)
        .exclude(pk__in=[c.pk for c in conversations])
        .values("assignee")
        .annotate(open=Count("pk"))
        .values_list("assignee", "open")
    )
    by_pk = {agent.pk: agent for agent in agents}
    for conversation in conversations:
        owner = by_pk.get(conversation.assignee_id) if conversation.assignee_id is not None else None
        chosen = owner or min(agents, key=lambda agent: (load.get(agent.pk, 0), agent.username))
        conversation.assignee = chosen
        load[chosen.pk] = load.get(chosen.pk, 0) + 1
