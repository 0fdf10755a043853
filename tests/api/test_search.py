"""Message search: word forms on PostgreSQL (full-text, GIN index), a working match on SQLite, scoped."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from store.auth import issue_token
from tests.api.data import ALICE, ALICE_ID, BOB, inbound, record

URL = "/api/whatsapp/messages/"


@pytest.fixture
def corpus(db: None) -> None:
    record(
        inbound("a1", customer=ALICE, minutes=0, text="Is the blender still available?"),
        inbound("a2", customer=ALICE, minutes=1, text="", message_type="document", caption="my receipt"),
        inbound("b1", customer=BOB, minutes=2, text="Two blenders arrived broken"),
        inbound("b2", customer=BOB, minutes=3, text="thanks, all good"),
    )


def found(api: Client, q: str) -> list[str]:
    response = api.get(URL, {"q": q})
    assert response.status_code == 200, response.json()
    return [m["message_id"] for m in response.json()["results"]]


@pytest.mark.django_db
def test_search_word_form_finds_both_newest_first(api: Client, corpus: None) -> None:
    assert found(api, "blenders") == ["b1", "a1"]
    assert found(api, "blender") == ["b1", "a1"]


@pytest.mark.django_db
def test_search_every_word_must_match(api: Client, corpus: None) -> None:
    assert found(api, "blender broken") == ["b1"]
    assert found(api, "receipt") == ["a2"]
    assert found(api, "unicorn") == []


@pytest.mark.django_db
def test_search_respects_the_token_scope(corpus: None, bearer: Callable[[str], Client]) -> None:
    app = bearer(issue_token(User.objects.create_user("app"), customers=[ALICE_ID]))

    assert found(app, "blenders") == ["a1"]


@pytest.mark.django_db
def test_search_finds_file_names_by_their_words(api: Client) -> None:
    record(inbound("f1", minutes=0, text="", message_type="document", caption=""))
    from store.models import WhatsAppMessage

    WhatsAppMessage.objects.filter(message_id="f1").update(media_filename="invoice_march-2026.pdf")

    assert found(api, "invoice") == ["f1"]


@pytest.mark.django_db
@pytest.mark.postgres
def test_search_uses_the_gin_index_on_postgresql(api: Client, corpus: None) -> None:
    from store.models import WhatsAppMessage
    from store.search import search_messages

    query = search_messages(WhatsAppMessage.objects.order_by(), "blender")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")

    assert "message_search_idx" in plan


@pytest.mark.django_db
@pytest.mark.postgres
def test_search_page_collects_index_matches_instead_of_walking_the_timestamp_index(
    api: Client, corpus: None
) -> None:
    # The page's own SQL, as the REST API runs it. With the plain timestamp order PostgreSQL may walk
    # the timestamp index backwards, parsing every row's text, until it has a page: for a rare word in
    # a million messages that read half the table (docs/performance.md, `search.p95`).
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert found(api, "blender") == ["b1", "a1"]
    (page_sql,) = [q["sql"] for q in captured.captured_queries if "to_tsvector" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN {page_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")

    assert "message_search_idx" in plan, plan
    assert "message_newest_idx" not in plan, plan  # the (timestamp, id) index that orders every page
