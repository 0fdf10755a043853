"""Fetches a WABA's message templates from the Graph API into the template table (`sync_templates`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import sync_to_async

from outbound.graph import graph_client_from_settings
from store.actions.templates import SyncResult, record_templates
from store.records import TemplateRecord


def template_records(waba_id: str, listed: Iterable[Mapping[str, Any]]) -> list[TemplateRecord]:
    """Meta's template objects in the store's terms; one without a name or language is skipped."""
    records = []
    for item in listed:
        name, language = item.get("name"), item.get("language")
        if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
            continue
        components = item.get("components")
        records.append(
            TemplateRecord(
                waba_id=waba_id,
                name=name,
                language=language,
                status=str(item.get("status") or "PENDING"),
                template_id=str(item.get("id") or ""),
                category=str(item.get("category") or ""),
                components=[c for c in components if isinstance(c, dict)]
                if isinstance(components, list)
                else [],
            )
        )
    return records


async def sync_templates(waba_id: str) -> SyncResult:
    """Read every page of the account's templates, then upsert them in one transaction."""
    async with graph_client_from_settings() as client:
        listed = await client.list_templates(waba_id)
    return await sync_to_async(record_templates)(waba_id, template_records(waba_id, listed))
