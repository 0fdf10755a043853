"""GET /api/whatsapp/messages/ (filters, keyset pages) and /api/whatsapp/messages/<id>/."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from store.events import message_detail_json, message_json
from store.models import WhatsAppConversation, WhatsAppMessage
from store.queries import encode_cursor
from tests.api.data import (
    ALICE,
    ALICE_ID,
    BOB,
    CAROL,
    CAROL_ID,
    CLINIC,
    SHOP,
    at,
    inbound,
    outbound,
    record,
    status,
)

URL = "/api/whatsapp/messages/"


@pytest.fixture
def history(db: None) -> None:
    record(
        inbound("a1", minutes=0, text="hello there"),
        outbound("a2", minutes=1, text="thanks"),
        inbound("a3", minutes=2, text="", message_type="image", caption="Invoice photo"),
        inbound("b1", customer=BOB, minutes=3, text="I need HELP"),
        inbound("c1", customer=CAROL, business=CLINIC, minutes=4, text="booking"),
        outbound("c2", customer=CAROL, business=CLINIC, minutes=5, text="booked"),
        inbound("d1", business=CLINIC, minutes=6, text="hi clinic"),
        statuses=(status("a2", "sent", minutes=1), status("a2", "delivered", minutes=1.5)),
    )


def wamids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [m["message_id"] for m in response.json()["results"]]


@pytest.mark.django_db
def test_list_messages_default_newest_first_with_event_json(api: Client, history: None) -> None:
    response = api.get(URL)

    assert wamids(response) == ["d1", "c2", "c1", "b1", "a3", "a2", "a1"]
    expected = [message_json(m) for m in WhatsAppMessage.objects.order_by("-timestamp", "-id")]
    assert response.json() == {"results": expected, "next": None}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"phone": ALICE_ID}, ["d1", "a3", "a2", "a1"]),
        ({"phone": ALICE_ID, "business": SHOP.phone_number_id}, ["a3", "a2", "a1"]),
        ({"phone": CAROL_ID}, ["c2", "c1"]),
        ({"phone": "15559999999"}, []),
        ({"business": CLINIC.phone_number_id}, ["d1", "c2", "c1"]),
        ({"type": "image"}, ["a3"]),
        ({"direction": "outbound"}, ["c2", "a2"]),
        ({"direction": "inbound", "business": SHOP.phone_number_id}, ["b1", "a3", "a1"]),
        ({"status": "delivered"}, ["a2"]),
        ({"since": at(2).isoformat()}, ["d1", "c2", "c1", "b1", "a3"]),
        ({"until": at(2).isoformat()}, ["a2", "a1"]),
        ({"since": "2026-05-01T09:01:00Z", "until": "2026-05-01T09:04:00Z"}, ["b1", "a3", "a2"]),
        ({"since": "2026-05-01T09:05:00"}, ["d1", "c2"]),
        ({"q": "help"}, ["b1"]),
        ({"q": "INVOICE"}, ["a3"]),
        ({"q": "hello", "direction": "outbound"}, []),
    ],
)
def test_list_messages_filter_returns_matching(
    api: Client, history: None, params: dict[str, str], expected: list[str]
) -> None:
    assert wamids(api.get(URL, params)) == expected


@pytest.mark.django_db
def test_list_messages_conversation_filter_returns_its_messages(api: Client, history: None) -> None:
    carol = WhatsAppConversation.objects.get(user_id=CAROL_ID)

    assert wamids(api.get(URL, {"conversation": carol.pk})) == ["c2", "c1"]


@pytest.mark.django_db
def test_list_messages_walking_pages_returns_all_once_in_order(api: Client) -> None:
    # Three messages share each timestamp: the id must break the ties.
    record(*[inbound(f"m{i:02}", customer=[ALICE, BOB][i % 2], minutes=i // 3, text="x") for i in range(23)])
    expected = list(
        WhatsAppMessage.objects.order_by("-timestamp", "-id").values_list("message_id", flat=True)
    )

    seen: list[str] = []
    url: str | None = f"{URL}?q=x&direction=inbound&limit=4"
    pages = 0
    while url:
        response = api.get(url)
        seen += wamids(response)
        url = response.json()["next"]
        pages += 1
        if url:
            parsed = urlparse(url)
            assert parsed.scheme == "https"
            assert parsed.netloc == "testserver"
            query = parse_qs(parsed.query)
            assert query["q"] == ["x"]
            assert query["direction"] == ["inbound"]
            assert query["limit"] == ["4"]

    assert seen == expected
    assert pages == 6


@pytest.mark.django_db
def test_list_messages_limit_over_max_is_capped(api: Client) -> None:
    record(*[inbound(f"m{i:03}", minutes=i) for i in range(205)])

    response = api.get(URL, {"limit": 1000})

    assert len(wamids(response)) == 200
    assert parse_qs(urlparse(response.json()["next"]).query)["limit"] == ["200"]
    assert len(wamids(api.get(response.json()["next"]))) == 5


@pytest.mark.django_db
def test_list_messages_default_limit_is_fifty(api: Client) -> None:
    record(*[inbound(f"m{i:03}", minutes=i) for i in range(51)])

    response = api.get(URL)

    assert len(wamids(response)) == 50
    assert parse_qs(urlparse(response.json()["next"]).query)["limit"] == ["50"]


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_list_messages_bad_limit_is_400(api: Client, limit: str) -> None:
    response = api.get(URL, {"limit": limit})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "limit" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "bm90LWEtY3Vyc29y", encode_cursor("c", at(0), 5), encode_cursor("m", None, 5), "bXx4fDE"],
)
def test_list_messages_bad_cursor_is_400_invalid_cursor(api: Client, history: None, cursor: str) -> None:
    response = api.get(URL, {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cursor"
    assert response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["since", "until"])
def test_list_messages_bad_time_is_400(api: Client, field: str) -> None:
    response = api.get(URL, {field: "yesterday"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert field in response.json()["detail"]


@pytest.mark.django_db
def test_list_messages_bad_direction_is_400(api: Client) -> None:
    assert api.get(URL, {"direction": "sideways"}).status_code == 400


@pytest.mark.django_db
def test_list_messages_page_costs_constant_queries(
    api: Client, django_assert_max_num_queries: Any, history: None
) -> None:
    record(*[inbound(f"m{i:02}", minutes=10 + i) for i in range(30)])
    api.get(URL)  # the token's last_used_at is written once

    with django_assert_max_num_queries(3):
        assert len(wamids(api.get(URL, {"phone": ALICE_ID, "limit": "30"}))) == 30


@pytest.mark.django_db
def test_get_message_returns_raw_and_status_history(api: Client, history: None) -> None:
    message = WhatsAppMessage.objects.get(message_id="a2")

    response = api.get(f"{URL}{message.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body == message_detail_json(message, list(message.statuses.all()))
    assert body["raw"] == {"id": "a2", "type": "text"}
    assert [s["status"] for s in body["statuses"]] == ["sent", "delivered"]
    assert body["status"] == "delivered"


@pytest.mark.django_db
def test_get_message_unknown_id_is_404(api: Client, history: None) -> None:
    response = api.get(f"{URL}999999/")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_get_message_wamid_instead_of_id_is_400(api: Client, history: None) -> None:
    response = api.get(f"{URL}wamid.abc/")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
