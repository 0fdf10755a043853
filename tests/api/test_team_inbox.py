"""The team inbox over REST: assignment, status, snooze, labels, their filters, notes, canned responses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from store.actions.team import UNSNOOZE_JOB, reopen_if_snooze_ended
from store.auth import issue_token
from store.models import ConversationNote, HubEvent, Job, WhatsAppConversation
from store.records import CustomerRecord
from tests.api.data import ALICE, ALICE_ID, BOB, BOB_ID, inbound, record

URL = "/api/whatsapp/conversations/"


@pytest.fixture
def staff(agent: User) -> User:
    agent.is_staff = True
    agent.save(update_fields=["is_staff"])
    User.objects.create_user("bob", is_staff=True)
    User.objects.create_user("ann", is_staff=True, is_active=False)
    User.objects.create_user("app")  # active, not staff
    return agent


@pytest.fixture
def two(db: None) -> None:
    record(inbound("a1", customer=ALICE, minutes=0), inbound("b1", customer=BOB, minutes=1))


def patch(api: Client, customer: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    response = api.patch(f"{URL}{customer}/", body, content_type="application/json")
    return response.status_code, response.json()


def customers(api: Client, **params: str) -> list[str]:
    response = api.get(URL, params)
    assert response.status_code == 200, response.json()
    return [c["phone_number"] for c in response.json()["results"]]


@pytest.mark.django_db
def test_patch_assignee_and_status_answers_them_and_logs_one_event(
    api: Client, staff: User, two: None
) -> None:
    before = HubEvent.objects.count()

    code, body = patch(
        api, ALICE_ID, {"assignee": "bob", "status": "pending", "labels": ["VIP", " vip", "billing"]}
    )

    assert code == 200
    assert (body["assignee"], body["status"], body["labels"]) == ("bob", "pending", ["billing", "vip"])
    events = list(HubEvent.objects.filter(seq__gt=0).order_by("seq"))[before:]
    assert [e.type for e in events] == ["conversation.updated"]
    assert events[0].payload["conversation"]["assignee"] == "bob"
    assert api.get(f"{URL}{ALICE_ID}/").json()["labels"] == ["billing", "vip"]


@pytest.mark.django_db
def test_patch_same_values_again_logs_nothing(api: Client, staff: User, two: None) -> None:
    patch(api, ALICE_ID, {"assignee": "bob"})
    count = HubEvent.objects.count()

    code, _ = patch(api, ALICE_ID, {"assignee": "bob"})

    assert code == 200
    assert HubEvent.objects.count() == count


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"assignee": "app"}, "invalid_assignee"),  # not staff
        ({"assignee": "ann"}, "invalid_assignee"),  # deactivated
        ({"assignee": "nobody"}, "invalid_assignee"),
        ({"status": "snoozed"}, "invalid_snooze"),  # no snoozed_until
        ({"labels": ['"quoted"']}, "invalid_label"),
    ],
)
def test_patch_refused_change_answers_400_and_changes_nothing(
    api: Client, staff: User, two: None, body: dict[str, object], error: str
) -> None:
    code, answer = patch(api, ALICE_ID, body)

    assert (code, answer["error"]) == (400, error)
    conversation = WhatsAppConversation.objects.get(phone_number=ALICE_ID)
    assert (conversation.assignee_id, conversation.status, conversation.labels) == (None, "open", [])


@pytest.mark.django_db
def test_patch_unknown_status_answers_error_shape(api: Client, staff: User, two: None) -> None:
    code, answer = patch(api, ALICE_ID, {"status": "closed"})

    assert code in (400, 422)
    assert set(answer) == {"error", "detail"}


@pytest.mark.django_db
def test_patch_null_assignee_unassigns(api: Client, staff: User, two: None) -> None:
    patch(api, ALICE_ID, {"assignee": "bob"})

    code, body = patch(api, ALICE_ID, {"assignee": None})

    assert (code, body["assignee"]) == (200, None)


@pytest.mark.django_db
def test_inbound_message_reopens_resolved_conversation(api: Client, staff: User, two: None) -> None:
    patch(api, ALICE_ID, {"status": "resolved"})

    record(inbound("a2", customer=ALICE, minutes=5))

    assert api.get(f"{URL}{ALICE_ID}/").json()["status"] == "open"


@pytest.mark.django_db
def test_snooze_queues_its_end_and_reopens_at_snoozed_until(api: Client, staff: User, two: None) -> None:
    until = datetime.now(UTC) + timedelta(hours=2)
    code, body = patch(api, ALICE_ID, {"status": "snoozed", "snoozed_until": until.isoformat()})
    assert (code, body["status"]) == (200, "snoozed")
    job = Job.objects.get(kind=UNSNOOZE_JOB)
    conversation = WhatsAppConversation.objects.get(phone_number=ALICE_ID)
    assert job.run_after >= until - timedelta(seconds=1)

    # Before its time the job changes nothing; once the time has come, it reopens.
    assert reopen_if_snooze_ended(conversation.pk, until) is False
    WhatsAppConversation.objects.filter(pk=conversation.pk).update(snoozed_until=until - timedelta(hours=3))
    assert reopen_if_snooze_ended(conversation.pk, until - timedelta(hours=3)) is True

    after = api.get(f"{URL}{ALICE_ID}/").json()
    assert (after["status"], after["snoozed_until"]) == ("open", None)
    assert HubEvent.objects.order_by("-seq").first().payload["conversation"]["status"] == "open"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_snooze_ended_after_a_new_status_leaves_it_alone(api: Client, staff: User, two: None) -> None:
    until = datetime.now(UTC) - timedelta(seconds=1)
    WhatsAppConversation.objects.filter(phone_number=ALICE_ID).update(status="resolved")
    conversation = WhatsAppConversation.objects.get(phone_number=ALICE_ID)

    assert reopen_if_snooze_ended(conversation.pk, until) is False
    assert WhatsAppConversation.objects.get(pk=conversation.pk).status == "resolved"


@pytest.mark.django_db
def test_list_filters_assignee_status_and_label_combine(
    api: Client, staff: User, two: None, bearer: Callable[[str], Client]
) -> None:
    patch(api, ALICE_ID, {"assignee": "agent", "labels": ["vip"]})
    patch(api, BOB_ID, {"assignee": "bob", "status": "resolved", "labels": ["vip", "billing"]})

    assert customers(api, assignee="me") == [ALICE_ID]
    assert customers(api, assignee="bob") == [BOB_ID]
    assert customers(api, assignee="none") == []
    assert customers(api, status="open") == [ALICE_ID]
    assert customers(api, status="open,resolved") == [BOB_ID, ALICE_ID]
    assert customers(api, label="VIP") == [BOB_ID, ALICE_ID]
    assert customers(api, label="billing", status="open") == []
    assert customers(api, label="vi") == []  # a label matches whole
    assert api.get(URL, {"status": "closed"}).status_code == 400


@pytest.mark.django_db
def test_note_create_answers_201_and_lists_with_author(api: Client, staff: User, two: None) -> None:
    response = api.post(
        f"{URL}{ALICE_ID}/notes/",
        {"text": "Refund approved, @bob please send it"},
        content_type="application/json",
    )

    assert response.status_code == 201
    note = response.json()
    assert {k: note[k] for k in ("author", "text", "mentions")} == {
        "author": "agent",
        "text": "Refund approved, @bob please send it",
        "mentions": ["bob"],
    }
    assert set(note) >= {"id", "author", "text", "created_at"}
    listed = api.get(f"{URL}{ALICE_ID}/notes/").json()["results"]
    assert [n["id"] for n in listed] == [note["id"]]
    event = HubEvent.objects.order_by("-seq").first()
    assert event is not None
    assert event.type == "note.created"
    assert event.payload["note"]["text"] == note["text"]


@pytest.mark.django_db
def test_notes_never_reach_a_customer_scoped_token(
    api: Client, staff: User, two: None, bearer: Callable[[str], Client]
) -> None:
    api.post(f"{URL}{ALICE_ID}/notes/", {"text": "internal"}, content_type="application/json")
    app = bearer(issue_token(User.objects.get(username="app"), customers=[ALICE_ID]))

    assert app.get(f"{URL}{ALICE_ID}/notes/").status_code == 403
    refused = app.post(f"{URL}{ALICE_ID}/notes/", {"text": "x"}, content_type="application/json")
    assert refused.status_code == 403
    assert ConversationNote.objects.count() == 1
    assert app.get("/api/whatsapp/canned-responses/").status_code == 403


@pytest.mark.django_db
def test_canned_responses_create_search_update_delete(api: Client, staff: User) -> None:
    base = "/api/whatsapp/canned-responses/"
    made = api.post(base, {"shortcut": "/Hours", "text": "We open at 9."}, content_type="application/json")
    api.post(base, {"shortcut": "refund", "text": "Refunds take 5 days."}, content_type="application/json")
    assert made.status_code == 201
    assert made.json()["shortcut"] == "hours"

    assert [r["shortcut"] for r in api.get(base, {"q": "days"}).json()["results"]] == ["refund"]
    assert [r["shortcut"] for r in api.get(base, {"q": "/hou"}).json()["results"]] == ["hours"]
    taken = api.post(base, {"shortcut": "hours", "text": "again"}, content_type="application/json")
    assert (taken.status_code, taken.json()["error"]) == (409, "shortcut_taken")

    pk = made.json()["id"]
    changed = api.patch(f"{base}{pk}/", {"text": "We open at 8."}, content_type="application/json")
    assert changed.json()["text"] == "We open at 8."
    assert api.delete(f"{base}{pk}/").status_code == 204
    assert [r["shortcut"] for r in api.get(base).json()["results"]] == ["refund"]
    assert api.delete(f"{base}{pk}/").status_code == 404


@pytest.mark.django_db
def test_agents_lists_active_staff_only(api: Client, staff: User) -> None:
    response = api.get("/api/whatsapp/agents/")

    assert response.status_code == 200
    assert [a["username"] for a in response.json()["results"]] == ["agent", "bob"]


@pytest.mark.django_db
def test_ingest_of_an_assigned_conversation_costs_no_extra_query(api: Client, staff: User, two: None) -> None:
    patch(api, ALICE_ID, {"assignee": "bob"})

    def queries_to_record(wamid: str, customer: CustomerRecord) -> int:
        with CaptureQueriesContext(connection) as captured:
            record(inbound(wamid, customer=customer, minutes=10))
        return len(captured)

    assert queries_to_record("a9", ALICE) == queries_to_record("b9", BOB)
