"""`manage.py sync_templates` against the fake Graph API over real HTTP: every page, idempotent upserts."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import httpx
import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from store.models import MessageTemplate

WABA = "102290129340398"


@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.WHATSAPP_BUSINESS_ACCOUNT_ID = WABA
        yield server


def generated(count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"reminder_{n:03d}",
            "components": [{"type": "BODY", "text": "See you on {{1}}."}],
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "id": str(2_000_000 + n),
        }
        for n in range(count)
    ]


def sync() -> str:
    out = StringIO()
    call_command("sync_templates", stdout=out)
    return out.getvalue()


def test_fake_template_list_pages_in_meta_format(fake: FakeGraph) -> None:
    url = f"{fake.base_url}/v24.0/{WABA}/message_templates"
    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    first = httpx.get(url, params={"limit": 2}, headers=auth).json()
    assert [t["name"] for t in first["data"]] == ["order_update", "hello_world"]
    assert set(first["data"][0]) >= {"name", "language", "status", "category", "id", "components"}
    assert set(first["paging"]["cursors"]) == {"before", "after"}
    assert first["paging"]["next"].startswith(url)
    after = first["paging"]["cursors"]["after"]
    rest = httpx.get(url, params={"limit": 10, "after": after}, headers=auth).json()
    assert [t["status"] for t in rest["data"]] == ["APPROVED", "PENDING", "REJECTED"]
    assert "next" not in rest["paging"]
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.django_db
def test_sync_templates_reads_every_page_and_stores_meta_fields(fake: FakeGraph) -> None:
    fake.app.templates += generated(120)  # past one page of 100
    assert "125 new" in sync()
    assert MessageTemplate.objects.filter(waba_id=WABA).count() == 125
    order = MessageTemplate.objects.get(name="order_update", language="en_US")
    assert (order.status, order.category, order.template_id) == ("APPROVED", "UTILITY", "1187634521980243")
    assert order.components[0]["text"].startswith("Hi {{1}}, your order {{2}}")
    assert MessageTemplate.objects.get(name="reminder_119").template_id == "2000119"
    assert MessageTemplate.objects.get(name="pedido_enviado").language == "es"


@pytest.mark.django_db
def test_sync_templates_twice_changes_nothing(fake: FakeGraph) -> None:
    sync()
    before = {t.pk: t.updated_at for t in MessageTemplate.objects.all()}
    assert "0 new, 0 changed, 5 unchanged, 0 no longer listed" in sync()
    assert {t.pk: t.updated_at for t in MessageTemplate.objects.all()} == before


@pytest.mark.django_db
def test_sync_templates_follows_meta_changes_and_deletions(fake: FakeGraph) -> None:
    sync()
    fake.app.templates[3]["status"] = "APPROVED"  # pedido_enviado approved at Meta
    del fake.app.templates[4]  # win_back deleted at Meta
    assert "0 new, 1 changed, 3 unchanged, 1 no longer listed" in sync()
    assert MessageTemplate.objects.get(name="pedido_enviado").status == "APPROVED"
    assert MessageTemplate.objects.get(name="win_back").status == "DELETED"


@pytest.mark.django_db
def test_sync_templates_without_account_or_token_says_why(fake: FakeGraph, settings: Settings) -> None:
    settings.WHATSAPP_ACCESS_TOKEN = "revoked"
    with pytest.raises(CommandError, match="Meta refused"):
        sync()
    settings.WHATSAPP_BUSINESS_ACCOUNT_ID = None
    with pytest.raises(CommandError, match="WHATSAPP_BUSINESS_ACCOUNT_ID"):
        sync()
    assert not MessageTemplate.objects.exists()
