"""Auto-assignment at ingest: new and reopened conversations go to the least loaded online agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from store.models import WhatsAppConversation
from store.online_agents import provide_online_agents
from store.records import CustomerRecord
from tests.api.data import ALICE, ALICE_ID, BOB, BOB_ID, inbound, outbound, record

CAROL = CustomerRecord(wa_id="15553330003", name="Carol")
online: list[str] = []


@pytest.fixture(autouse=True)
def agents(db: None, settings: Settings) -> Iterator[None]:
    settings.HUB_AUTO_ASSIGN = "round_robin"
    for name in ("alice", "bob"):
        User.objects.create_user(name, is_staff=True)
    User.objects.create_user("viewer")  # online, but not staff: never assigned
    online[:] = ["bob", "alice", "viewer"]
    provide_online_agents(lambda: online)
    yield
    provide_online_agents(None)


def assignee(customer: str) -> str | None:
    conversation = WhatsAppConversation.objects.select_related("assignee").get(phone_number=customer)
    return conversation.assignee.username if conversation.assignee else None


def test_new_conversations_take_turns_between_online_agents() -> None:
    record(inbound("wamid.a1", customer=ALICE))
    record(inbound("wamid.b1", customer=BOB))
    record(inbound("wamid.c1", customer=CAROL))
    assert [assignee(c) for c in (ALICE_ID, BOB_ID, CAROL.wa_id or "")] == ["alice", "bob", "alice"]


def test_assignment_is_in_the_message_event_with_its_seq() -> None:
    (event,) = record(inbound("wamid.a1", customer=ALICE))
    assert event.type == "message.created"
    assert event.payload["conversation"]["assignee"] == "alice"


def test_only_online_agents_are_chosen_and_nobody_online_leaves_it_unassigned() -> None:
    online[:] = ["bob"]
    record(inbound("wamid.a1", customer=ALICE))
    online[:] = []
    record(inbound("wamid.b1", customer=BOB))
    assert (assignee(ALICE_ID), assignee(BOB_ID)) == ("bob", None)


def test_a_second_message_of_an_open_conversation_changes_nothing() -> None:
    record(inbound("wamid.a1", customer=ALICE))
    WhatsAppConversation.objects.update(assignee=None)  # an agent unassigned it on purpose
    assert [e.type for e in record(inbound("wamid.a2", customer=ALICE, minutes=1))] == ["message.created"]
    assert assignee(ALICE_ID) is None


def test_reopened_conversation_stays_with_online_owner_else_goes_to_the_least_loaded() -> None:
    record(inbound("wamid.a1", customer=ALICE))  # alice's
    record(inbound("wamid.b1", customer=BOB))  # bob's
    WhatsAppConversation.objects.update(status="resolved")
    record(inbound("wamid.a2", customer=ALICE, minutes=1))
    assert assignee(ALICE_ID) == "alice"
    online[:] = ["bob"]
    WhatsAppConversation.objects.filter(phone_number=ALICE_ID).update(status="resolved")
    record(inbound("wamid.a3", customer=ALICE, minutes=2))
    assert assignee(ALICE_ID) == "bob"


def test_least_loaded_counts_open_conversations_only() -> None:
    record(inbound("wamid.a1", customer=ALICE))  # alice
    record(inbound("wamid.b1", customer=BOB))  # bob
    WhatsAppConversation.objects.filter(phone_number=BOB_ID).update(status="resolved")
    record(inbound("wamid.c1", customer=CAROL))
    assert assignee(CAROL.wa_id or "") == "bob"


def test_a_conversation_the_business_started_is_not_auto_assigned() -> None:
    record(outbound("wamid.out1", customer=ALICE))
    record(inbound("wamid.a1", customer=ALICE, minutes=1))
    assert assignee(ALICE_ID) is None


def test_auto_assignment_is_off_by_default(settings: Settings) -> None:
    settings.HUB_AUTO_ASSIGN = ""
    record(inbound("wamid.a1", customer=ALICE))
    assert assignee(ALICE_ID) is None
