"""Team events over sockets: notes reach the team live and on replay, never a customer-scoped token."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from store.actions.team import ConversationChange, update_conversation
from store.actions.team_notes import add_note
from store.auth import EVERYTHING
from tests.realtime.helpers import ALICE, amake_token, arecord_messages, communicator, receive_frames

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]

INBOX = "/ws/whatsapp/inbox/"


@sync_to_async
def note_and_assign(text: str) -> None:
    author, _ = User.objects.get_or_create(username="lead", defaults={"is_staff": True})
    User.objects.get_or_create(username="bob", defaults={"is_staff": True})
    add_note(EVERYTHING, author, ALICE, None, text)
    update_conversation(EVERYTHING, ALICE, None, ConversationChange({"assignee": "bob", "status": "pending"}))


async def test_note_and_assignment_reach_the_team_live_and_skip_customer_tokens() -> None:
    first = (await arecord_messages(1))[0]
    team = communicator(INBOX, await amake_token("agent"))
    app = communicator(f"/ws/whatsapp/conversations/{ALICE}/", await amake_token("app", customers=[ALICE]))
    assert (await team.connect())[0]
    assert (await app.connect())[0]

    await note_and_assign("call back after 5")
    last = (await arecord_messages(1))[0]

    team_frames = await receive_frames(team, 3)
    assert [f["type"] for f in team_frames] == ["note.created", "conversation.updated", "message.created"]
    assert team_frames[0]["note"]["text"] == "call back after 5"
    assert team_frames[1]["conversation"]["assignee"] == "bob"
    app_frames = await receive_frames(app, 2)
    assert [f["type"] for f in app_frames] == ["conversation.updated", "message.created"]
    assert app_frames[-1]["seq"] == last > first
    await team.disconnect()
    await app.disconnect()


async def test_replay_with_after_gives_notes_to_the_team_only() -> None:
    first = (await arecord_messages(1))[0]
    await note_and_assign("replayed note")

    team = communicator(f"{INBOX}?after={first}", await amake_token("agent"))
    app = communicator(f"{INBOX}?after={first}", await amake_token("app", customers=[ALICE]))
    assert (await team.connect())[0]
    assert (await app.connect())[0]

    team_frames = await receive_frames(team, 2)
    assert [f["type"] for f in team_frames] == ["note.created", "conversation.updated"]
    app_frames = await receive_frames(app, 1)
    assert app_frames[0]["type"] == "conversation.updated"
    assert app_frames[0]["conversation"]["status"] == "pending"
    assert await app.receive_nothing(timeout=0.5)
    await team.disconnect()
    await app.disconnect()
