"""The admin at /admin/whatsapp/: pages render, search and filters find the right rows, received data
stays read-only and escaped, and only notes can be edited."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from store.models import (
    ApiToken,
    HubEvent,
    MessageTemplate,
    WebhookEvent,
    WhatsAppBusinessNumber,
    WhatsAppConversation,
    WhatsAppMessage,
    WhatsAppMessageStatus,
)

BUSINESS = "106540352242922"
OTHER_BUSINESS = "206540352242922"
SCRIPT = "<script>alert(1)</script>"
SQL = "'; DROP TABLE x; --"
_wamids = itertools.count(1)


def make_conversation(**fields: Any) -> WhatsAppConversation:
    values: dict[str, Any] = {"business_phone_number_id": BUSINESS, "phone_number": "919876543210"}
    values.update(fields)
    return WhatsAppConversation.objects.create(**values)


def make_message(conversation: WhatsAppConversation, **fields: Any) -> WhatsAppMessage:
    values: dict[str, Any] = {
        "message_id": f"wamid.TEST{next(_wamids)}",
        "conversation": conversation,
        "direction": "inbound",
        "from_number": conversation.customer_key,
        "to_number": "15550001111",
        "from_name": conversation.contact_name,
        "message_type": "text",
        "text_body": "hello",
        "timestamp": datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        "status": "received",
        "raw": {"type": "text", "text": {"body": fields.get("text_body", "hello")}},
    }
    values.update(fields)
    return WhatsAppMessage.objects.create(**values)


def result_ids(client: Client, url: str, params: dict[str, str]) -> set[int]:
    response = client.get(url, params)
    assert response.status_code == 200  # an unknown filter would redirect to `?e=1`
    assert response.context is not None
    changelist = response.context["cl"]
    return {row.pk for row in changelist.result_list}


def messages_url() -> str:
    return reverse("admin:whatsapp_whatsappmessage_changelist")


def conversations_url() -> str:
    return reverse("admin:whatsapp_whatsappconversation_changelist")


@pytest.fixture
def admin_client(django_user_model: Any) -> Client:
    """Django's test client logged in as a staff superuser (no password: no slow hashing per test)."""
    user = django_user_model.objects.create_superuser(
        username="admin", email="admin@example.com", password=None
    )
    # As behind the TLS proxy: with DEBUG off (DATABASE_URL set) plain HTTP is redirected to HTTPS.
    client = Client(headers={"X-Forwarded-Proto": "https"})
    client.force_login(user)
    return client


@pytest.fixture
def rows(django_user_model: Any) -> dict[str, Any]:
    """One row of every model the admin shows."""
    john = make_conversation(contact_name="John Doe", username="johnd", unread_count=1, message_count=2)
    bsuid = make_conversation(
        business_phone_number_id=OTHER_BUSINESS, phone_number=None, user_id="US.13491208655302741918"
    )
    inbound = make_message(john, text_body="Hi, I need help with my order")
    outbound = make_message(
        john,
        direction="outbound",
        from_number="15550001111",
        to_number="919876543210",
        from_name="",
        status="read",
        timestamp=datetime(2024, 1, 16, 9, 0, tzinfo=UTC),
    )
    image = make_message(
        bsuid,
        message_type="image",
        to_number="15550002222",
        text_body="",
        caption="receipt",
        media_id="1234",
        media_url="/api/whatsapp/media/99/",
        media_mime_type="image/jpeg",
        media_status="downloaded",
        timestamp=datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
    )
    status = WhatsAppMessageStatus.objects.create(
        message=outbound,
        wamid=outbound.message_id,
        status="read",
        timestamp=datetime(2024, 1, 16, 9, 5, tzinfo=UTC),
        recipient_id="919876543210",
    )
    user = django_user_model.objects.create_user(username="agent")
    token = ApiToken.objects.create(user=user, key_hash="f" * 64, prefix="hub_abcd")
    return {
        "business": WhatsAppBusinessNumber.objects.create(
            phone_number_id=BUSINESS, display_phone_number="15550001111"
        ),
        "conversation": john,
        "bsuid_conversation": bsuid,
        "inbound": inbound,
        "outbound": outbound,
        "image": image,
        "status": status,
        "webhook": WebhookEvent.objects.create(body=b'{"object": "whatsapp_business_account"}'),
        "event": HubEvent.objects.create(seq=1, type="message.created", conversation=john, payload={}),
        "token": token,
        "template": MessageTemplate.objects.create(
            waba_id="102290129340398",
            template_id="1187634521980243",
            name="order_update",
            language="en_US",
            category="UTILITY",
            status="APPROVED",
            components=[{"type": "BODY", "text": f"Hi {{{{1}}}} {SCRIPT}"}],
        ),
    }


MODELS = {
    "whatsappmessage": "inbound",
    "whatsappconversation": "conversation",
    "whatsappmessagestatus": "status",
    "webhookevent": "webhook",
    "hubevent": "event",
    "whatsappbusinessnumber": "business",
    "apitoken": "token",
    "messagetemplate": "template",
}


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_admin_changelist_of_each_model_renders(
    admin_client: Client, rows: dict[str, Any], model: str
) -> None:
    response = admin_client.get(reverse(f"admin:whatsapp_{model}_changelist"))
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "row"), MODELS.items())
def test_admin_change_page_of_each_model_renders(
    admin_client: Client, rows: dict[str, Any], model: str, row: str
) -> None:
    response = admin_client.get(reverse(f"admin:whatsapp_{model}_change", args=[rows[row].pk]))
    assert response.status_code == 200


@pytest.mark.django_db
def test_admin_original_message_url_renders_messages(admin_client: Client, rows: dict[str, Any]) -> None:
    response = admin_client.get("/admin/whatsapp/whatsappmessage/")
    assert response.status_code == 200
    assert b"Hi, I need help with my order" in response.content


@pytest.mark.django_db
def test_admin_anonymous_visitor_is_sent_to_login() -> None:
    response = Client(headers={"X-Forwarded-Proto": "https"}).get("/admin/whatsapp/whatsappmessage/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("919876543210", {"inbound", "outbound"}),  # from_number / to_number / conversation phone
        ("US.13491208655302741918", {"image"}),  # conversation BSUID
        ("15550001111", {"inbound", "outbound"}),  # the business number, both directions
        ("John", {"inbound", "outbound"}),  # from_name and contact_name
        ("nobody", set()),
    ],
)
def test_message_admin_search_by_phone_or_name_finds_right_rows(
    admin_client: Client, rows: dict[str, Any], term: str, expected: set[str]
) -> None:
    assert result_ids(admin_client, messages_url(), {"q": term}) == {rows[name].pk for name in expected}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("John", {"conversation"}),
        ("919876543210", {"conversation"}),
        ("US.1349", {"bsuid_conversation"}),
        ("johnd", {"conversation"}),
    ],
)
def test_conversation_admin_search_by_name_phone_or_username_finds_right_rows(
    admin_client: Client, rows: dict[str, Any], term: str, expected: set[str]
) -> None:
    assert result_ids(admin_client, conversations_url(), {"q": term}) == {rows[name].pk for name in expected}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"message_type": "image"}, {"image"}),
        ({"direction": "outbound"}, {"outbound"}),
        ({"status": "read"}, {"outbound"}),
        ({"status": "received"}, {"inbound", "image"}),
        ({"media_status": "downloaded"}, {"image"}),
        ({"timestamp__year": "2024"}, {"inbound", "outbound"}),  # date hierarchy
        ({"timestamp__year": "2024", "timestamp__month": "1", "timestamp__day": "16"}, {"outbound"}),
        (
            {"timestamp__gte": "2025-01-01 00:00:00+00:00", "timestamp__lt": "2026-01-01 00:00:00+00:00"},
            {"image"},
        ),  # the date list filter
    ],
)
def test_message_admin_filter_returns_matching_rows(
    admin_client: Client, rows: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    assert result_ids(admin_client, messages_url(), params) == {rows[name].pk for name in expected}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"business_phone_number_id": OTHER_BUSINESS}, {"bsuid_conversation"}),
        ({"has_unread": "yes"}, {"conversation"}),
        ({"has_unread": "no"}, {"bsuid_conversation"}),
    ],
)
def test_conversation_admin_filter_returns_matching_rows(
    admin_client: Client, rows: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    assert result_ids(admin_client, conversations_url(), params) == {rows[name].pk for name in expected}


@pytest.mark.django_db
def test_conversation_admin_messages_link_lists_its_messages(
    admin_client: Client, rows: dict[str, Any]
) -> None:
    conversation = rows["conversation"]
    params = {"conversation": str(conversation.pk)}
    assert result_ids(admin_client, messages_url(), params) == {rows["inbound"].pk, rows["outbound"].pk}


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["whatsappmessagestatus", "hubevent", "whatsappbusinessnumber"])
def test_view_only_admin_search_runs(admin_client: Client, rows: dict[str, Any], model: str) -> None:
    url = reverse(f"admin:whatsapp_{model}_changelist")
    assert admin_client.get(url, {"q": "919876543210"}).status_code == 200


@pytest.mark.django_db
def test_status_admin_search_by_wamid_finds_status(admin_client: Client, rows: dict[str, Any]) -> None:
    url = reverse("admin:whatsapp_whatsappmessagestatus_changelist")
    assert result_ids(admin_client, url, {"q": rows["outbound"].message_id}) == {rows["status"].pk}
    assert result_ids(admin_client, url, {"q": "919876543210"}) == {rows["status"].pk}


@pytest.mark.django_db
def test_message_admin_hostile_text_is_shown_escaped(admin_client: Client) -> None:
    conversation = make_conversation(contact_name=SCRIPT)
    message = make_message(conversation, text_body=f"{SCRIPT} {SQL}", from_name=SCRIPT, notes=SCRIPT)

    pages = [
        admin_client.get(messages_url()),
        admin_client.get(reverse("admin:whatsapp_whatsappmessage_change", args=[message.pk])),
        admin_client.get(reverse("admin:whatsapp_whatsappconversation_change", args=[conversation.pk])),
    ]

    for page in pages:
        assert page.status_code == 200
        assert SCRIPT.encode() not in page.content
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
    assert b"DROP TABLE x" in pages[1].content


@pytest.mark.django_db
def test_message_admin_sql_in_search_is_a_plain_term(admin_client: Client, rows: dict[str, Any]) -> None:
    make_message(rows["conversation"], from_name=SQL)
    assert len(result_ids(admin_client, messages_url(), {"q": SQL})) == 1
    assert WhatsAppMessage.objects.count() == 4
    assert "whatsapp_whatsappmessage" in connection.introspection.table_names()


@pytest.mark.django_db
def test_message_admin_media_link_with_script_url_is_not_a_link(admin_client: Client) -> None:
    message = make_message(
        make_conversation(),
        message_type="document",
        media_url="javascript:alert(1)",
        media_mime_type="application/pdf",
        media_status="downloaded",
    )
    page = admin_client.get(reverse("admin:whatsapp_whatsappmessage_change", args=[message.pk]))
    assert b'href="javascript:' not in page.content


@pytest.mark.django_db
def test_message_admin_image_media_shows_thumbnail(admin_client: Client, rows: dict[str, Any]) -> None:
    page = admin_client.get(messages_url())
    assert b'<img src="/api/whatsapp/media/99/"' in page.content


@pytest.mark.django_db
def test_message_admin_document_media_shows_link(admin_client: Client) -> None:
    make_message(
        make_conversation(),
        message_type="document",
        media_url="/api/whatsapp/media/7/",
        media_mime_type="application/pdf",
        media_filename="invoice<1>.pdf",
        media_status="downloaded",
    )
    page = admin_client.get(messages_url())
    assert b'<a href="/api/whatsapp/media/7/">invoice&lt;1&gt;.pdf</a>' in page.content


@pytest.mark.django_db
def test_message_admin_raw_is_pretty_printed_and_escaped(admin_client: Client) -> None:
    message = make_message(make_conversation(), text_body=SCRIPT)
    page = admin_client.get(reverse("admin:whatsapp_whatsappmessage_change", args=[message.pk]))
    assert b"&quot;body&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page.content


def change_form_data(message: WhatsAppMessage, **fields: str) -> dict[str, str]:
    """A change-form POST: the fields plus the (view-only) status inline's management form."""
    statuses = str(message.statuses.count())
    data = {
        "statuses-TOTAL_FORMS": statuses,
        "statuses-INITIAL_FORMS": statuses,
        "statuses-MIN_NUM_FORMS": "0",
        "statuses-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update(fields)
    return data


@pytest.mark.django_db
def test_message_admin_post_saves_notes_and_ignores_received_fields(
    admin_client: Client, rows: dict[str, Any]
) -> None:
    message = rows["outbound"]  # has a status row in its inline
    url = reverse("admin:whatsapp_whatsappmessage_change", args=[message.pk])

    response = admin_client.post(
        url,
        change_form_data(
            message,
            notes="Called back; order #42",
            text_body="forged",
            from_number="000",
            status="failed",
            message_id="wamid.FORGED",
        ),
    )

    assert response.status_code == 302, response.content[:2000]
    message.refresh_from_db()
    assert message.notes == "Called back; order #42"
    assert message.text_body == "hello"
    assert message.from_number == "15550001111"
    assert message.status == "read"
    assert message.message_id.startswith("wamid.TEST")
    assert message.statuses.count() == 1


@pytest.mark.django_db
def test_conversation_admin_post_saves_notes_and_ignores_counters(
    admin_client: Client, rows: dict[str, Any]
) -> None:
    conversation = rows["conversation"]
    url = reverse("admin:whatsapp_whatsappconversation_change", args=[conversation.pk])

    response = admin_client.post(
        url,
        {"notes": "VIP", "unread_count": "0", "message_count": "99", "contact_name": "X", "_save": "Save"},
    )

    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.notes == "VIP"
    assert (conversation.unread_count, conversation.message_count, conversation.contact_name) == (
        1,
        2,
        "John Doe",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_admin_add_page_of_each_model_is_forbidden(
    admin_client: Client, rows: dict[str, Any], model: str
) -> None:
    assert admin_client.get(reverse(f"admin:whatsapp_{model}_add")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "row"),
    [(model, row) for model, row in MODELS.items() if model != "apitoken"],
)
def test_admin_delete_of_received_data_is_forbidden(
    admin_client: Client, rows: dict[str, Any], model: str, row: str
) -> None:
    response = admin_client.post(
        reverse(f"admin:whatsapp_{model}_delete", args=[rows[row].pk]), {"post": "yes"}
    )
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "row", "field", "value"),
    [
        ("whatsappmessagestatus", "status", "status", "failed"),
        ("hubevent", "event", "type", "message.updated"),
        ("whatsappbusinessnumber", "business", "display_phone_number", "1"),
        ("webhookevent", "webhook", "error", "forged"),
        ("messagetemplate", "template", "status", "REJECTED"),
    ],
)
def test_view_only_admin_post_changes_nothing(
    admin_client: Client, rows: dict[str, Any], model: str, row: str, field: str, value: str
) -> None:
    obj = rows[row]
    before = getattr(obj, field)
    response = admin_client.post(reverse(f"admin:whatsapp_{model}_change", args=[obj.pk]), {field: value})
    assert response.status_code == 403
    obj.refresh_from_db()
    assert getattr(obj, field) == before


@pytest.mark.django_db
def test_webhook_event_admin_body_is_escaped_and_truncated(admin_client: Client) -> None:
    body = b'{"text": "' + SCRIPT.encode() + b'", "pad": "' + b"x" * 20_000 + b'"}'
    event = WebhookEvent.objects.create(body=body, error=SCRIPT)

    page = admin_client.get(reverse("admin:whatsapp_webhookevent_change", args=[event.pk]))
    listing = admin_client.get(reverse("admin:whatsapp_webhookevent_changelist"))

    assert SCRIPT.encode() not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
    assert b"x" * 10_300 not in page.content
    assert f"{len(body) - 10 * 1024} more bytes".encode() in page.content
    assert str(len(body)).encode() in listing.content
    assert SCRIPT.encode() not in listing.content


@pytest.mark.django_db
def test_api_token_admin_never_shows_hash(admin_client: Client, rows: dict[str, Any]) -> None:
    token = rows["token"]
    pages = [
        admin_client.get(reverse("admin:whatsapp_apitoken_changelist")),
        admin_client.get(reverse("admin:whatsapp_apitoken_change", args=[token.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        assert token.key_hash.encode() not in page.content
        assert b"hub_abcd" in page.content
    assert b"all conversations" in pages[0].content


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_admin_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, rows: dict[str, Any], model: str
) -> None:
    url = reverse(f"admin:whatsapp_{model}_changelist")
    before = count_queries(admin_client, url)
    for index in range(10):
        conversation = make_conversation(phone_number=f"4470090{index:04d}", contact_name=f"C{index}")
        message = make_message(conversation)
        WhatsAppMessageStatus.objects.create(
            message=message, wamid=message.message_id, status="sent", timestamp=message.timestamp
        )
        HubEvent.objects.create(
            seq=100 + index, type="message.created", conversation=conversation, payload={}
        )
        WebhookEvent.objects.create(body=b"{}")
        WhatsAppBusinessNumber.objects.create(phone_number_id=f"9{index}")
        ApiToken.objects.create(user=rows["token"].user, key_hash=f"{index:064d}", prefix=f"hub_{index}")

    assert count_queries(admin_client, url) == before


@pytest.mark.django_db
def test_template_admin_search_and_status_filter_find_right_rows(
    admin_client: Client, rows: dict[str, Any]
) -> None:
    rejected = MessageTemplate.objects.create(
        waba_id="102290129340398", name="win_back", language="en_US", status="REJECTED"
    )
    url = reverse("admin:whatsapp_messagetemplate_changelist")
    assert result_ids(admin_client, url, {"q": "order"}) == {rows["template"].pk}
    assert result_ids(admin_client, url, {"q": "1187634521980243"}) == {rows["template"].pk}
    assert result_ids(admin_client, url, {"status": "REJECTED"}) == {rejected.pk}
    page = admin_client.get(reverse("admin:whatsapp_messagetemplate_change", args=[rows["template"].pk]))
    assert SCRIPT not in page.content.decode()
    assert "&lt;script&gt;" in page.content.decode()
