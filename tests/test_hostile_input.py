"""Generated hostile input at the webhook and at every REST filter: an answer, never a 5xx.

A few examples each (a CI run takes seconds); tests/reliability/test_fuzz_webhook.py mutates real
fixtures at length.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.auth import issue_token
from store.models import WebhookEvent
from tests.api.clients import make_client
from tests.support import post_webhook, signed_headers
from webhook import samples

pytestmark = pytest.mark.django_db
NOW = 1_790_000_000
BOUNDED = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "a\x00b", "\udfff\ud800", "x" * 5000, "‮evil", "", " "]),
)
hostile_number = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([99999999999999999999999, -1, 0, 2**31, 2**63]),
)
json_leaf = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
hostile_json = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)),
    max_leaves=12,
)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


MESSAGE_FIELDS = ["id", "from", "timestamp", "type", "text", "context", "errors", "system", "extra"]


@BOUNDED
@given(
    field=st.sampled_from(MESSAGE_FIELDS),
    value=st.one_of(hostile_json, st.integers(400, 700).map(nested)),
    wa_id=hostile_text,
)
def test_hostile_json_in_a_signed_webhook_is_never_a_5xx(field: str, value: Any, wa_id: str) -> None:
    payload = samples.envelope([samples.text_message("wamid.H", "15550001", "hi", NOW)])
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message[field] = value
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = wa_id
    body = json.dumps(payload, separators=(",", ":")).encode()
    before = WebhookEvent.objects.count()

    answers = [post_webhook(body, signed_headers(body)).status_code for _ in range(2)]

    assert all(status < 500 for status in answers), answers
    assert answers[1] in (200, 400)  # the redelivery too
    assert WebhookEvent.objects.count() > before  # kept raw


def crafted_cursor(kind: str, position: str, pk: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}|{position}|{pk}".encode()).decode().rstrip("=")


cursors = st.one_of(
    hostile_text,
    st.builds(
        crafted_cursor,
        st.sampled_from(["m", "c", "x"]),
        st.sampled_from(
            ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "", "9999-12-31T23:59:59"]
        ),
        st.sampled_from(["99999999999999999999999", "1", "-5", "x", "9223372036854775808"]),
    ),
)
numbers = st.one_of(hostile_number.map(str), hostile_text)
times = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2026-13-40", "now"]),
    hostile_text,
)
MESSAGE_FILTERS = {
    "phone": hostile_text,
    "business": hostile_text,
    "conversation": numbers,
    "type": hostile_text,
    "direction": hostile_text,
    "status": hostile_text,
    "since": times,
    "until": times,
    "q": hostile_text,
    "cursor": cursors,
    "limit": numbers,
}
CONVERSATION_FILTERS = {
    "unread": hostile_text,
    "q": hostile_text,
    "business": hostile_text,
    "cursor": cursors,
    "limit": numbers,
}


def query_strategy(filters: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional=filters)


@pytest.fixture
def api() -> Any:
    return make_client(authorization=f"Bearer {issue_token(User.objects.create_user('hostile'))}")


def safe(params: dict[str, str]) -> dict[str, str]:
    # A URL carries UTF-8: a lone surrogate travels as the bytes a careless client would send.
    return {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in params.items()}


@BOUNDED
@given(
    messages=query_strategy(MESSAGE_FILTERS),
    conversations=query_strategy(CONVERSATION_FILTERS),
    ident=numbers.map(lambda n: n.encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
)
def test_hostile_rest_filters_answer_4xx_not_5xx(
    api: Any, messages: dict[str, str], conversations: dict[str, str], ident: str
) -> None:
    answers = [
        api.get("/api/whatsapp/messages/", safe(messages)),
        api.get("/api/whatsapp/conversations/", safe(conversations)),
        api.get(f"/api/whatsapp/conversations/{ident.strip('/') or 'x'}/", safe({"business": ident})),
    ]
    if ident.isdigit() or ident.lstrip("-").isdigit():
        answers.append(api.get(f"/api/whatsapp/messages/{ident}/"))
        answers.append(api.get(f"/api/whatsapp/media/{ident}/"))

    for response in answers:
        assert response.status_code < 500, (response.status_code, response.content[:300])
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "detail"}


@pytest.mark.parametrize(
    "query",
    [
        {"conversation": "99999999999999999999999"},
        {"cursor": crafted_cursor("m", "9999-12-31T23:59:59-23:59", "5")},
        {"since": "9999-12-31T23:59:59-05:00"},
    ],
    ids=["overflowing id", "cursor past year 9999", "time past year 9999"],
)
def test_out_of_range_parameters_are_400(api: Any, query: dict[str, str]) -> None:
    response = api.get("/api/whatsapp/messages/", query)

    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_cursor")
