"""Message templates: the table `sync_templates` and the status webhook keep, and the check of a send."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from store.columns import fit, without_nul
from store.errors import Unprocessable
from store.models import MessageTemplate
from store.queries import account_of
from store.records import TemplateRecord, TemplateStatusRecord
from store.template_rules import (
    SENDABLE_STATUSES,
    normalise_language,
    parameter_problem,
    rendered_body,
    status_of_event,
)

logger = logging.getLogger(__name__)

# What a template no longer in Meta's complete list becomes: Meta deleted it.
DELETED = "DELETED"
_SYNCED_FIELDS = ("template_id", "category", "status", "components")


@dataclass(frozen=True, slots=True)
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


def _fitted(template: MessageTemplate) -> MessageTemplate:
    for name in ("waba_id", "template_id", "name", "language", "category", "status", "reason"):
        setattr(template, name, fit(MessageTemplate, name, getattr(template, name)))
    return template


def record_templates(waba_id: str, records: Sequence[TemplateRecord]) -> SyncResult:
    """Make the account's rows what Meta's complete list says; the same list again changes nothing.

    A row Meta no longer lists is kept as `DELETED` (a sent message may still name it).
    """
    created = updated = unchanged = 0
    with transaction.atomic():
        existing = {
            (t.name, t.language): t
            for t in MessageTemplate.objects.select_for_update().filter(waba_id=waba_id)
        }
        listed: set[tuple[str, str]] = set()
        for record in records:
            new = _fitted(
                MessageTemplate(
                    waba_id=waba_id,
                    template_id=record.template_id,
                    name=record.name,
                    language=normalise_language(record.language),
                    category=record.category,
                    status=record.status.upper(),
                    components=without_nul([dict(c) for c in record.components]),
                )
            )
            key = (new.name, new.language)
            listed.add(key)
            row = existing.get(key)
            if row is None:
                row = _insert(new)
                if row is new:
                    created += 1
                    continue
            changed = [f for f in _SYNCED_FIELDS if getattr(row, f) != getattr(new, f)]
            if changed:
                for name in changed:
                    setattr(row, name, getattr(new, name))
                row.save(update_fields=[*changed, "updated_at"])
                updated += 1
            else:
                unchanged += 1
        gone = [t.pk for key, t in existing.items() if key not in listed and t.status != DELETED]
        deleted = MessageTemplate.objects.filter(pk__in=gone).update(status=DELETED) if gone else 0
    return SyncResult(created, updated, unchanged, deleted)


def _insert(template: MessageTemplate) -> MessageTemplate:
    """Insert, or the row a concurrent writer (the status webhook) inserted first."""
    try:
        with transaction.atomic():
            template.save(force_insert=True)
        return template
    except IntegrityError:
        return MessageTemplate.objects.select_for_update().get(
            waba_id=template.waba_id, name=template.name, language=template.language
        )


def apply_template_statuses(updates: Sequence[TemplateStatusRecord]) -> int:
    """Record Meta's template status updates; an unknown template is created with what the update says.

    Returns how many rows changed (a redelivered update changes none).
    """
    changed = 0
    for update in updates:
        new = _fitted(
            MessageTemplate(
                # An entry always names its WABA; the configured one stands in should it not.
                waba_id=update.waba_id or settings.WHATSAPP_BUSINESS_ACCOUNT_ID or "",
                template_id=update.template_id,
                name=update.name,
                language=normalise_language(update.language),
                category=update.category.upper(),
                status=status_of_event(update.status),
                reason="" if update.reason.upper() == "NONE" else update.reason,
            )
        )
        if not new.name or not new.language or not new.status:
            continue
        row = MessageTemplate.objects.filter(
            waba_id=new.waba_id, name=new.name, language=new.language
        ).first() or _insert(new)
        if row is new:
            changed += 1
            continue
        fields = {"status": new.status, "reason": new.reason}
        fields |= {name: getattr(new, name) for name in ("template_id", "category") if getattr(new, name)}
        different = [name for name, value in fields.items() if getattr(row, name) != value]
        if different:
            for name in different:
                setattr(row, name, fields[name])
            row.save(update_fields=[*different, "updated_at"])
            changed += 1
    return changed


def checked_template(business_phone_number_id: str, template: Mapping[str, Any]) -> str:
    """Refuse a template send Meta would refuse; returns the body text the customer will read.

    An account whose templates were never synced (no row) is not checked: the hub cannot know them, and
    Meta's own answer decides, as before templates were kept.
    """
    account = account_of(business_phone_number_id)
    rows = MessageTemplate.objects.filter(waba_id=account)
    if not rows.exists():
        return ""
    name = str(template.get("name", ""))
    language_field = template.get("language")
    language = normalise_language(
        str(language_field.get("code", "")) if isinstance(language_field, Mapping) else ""
    )
    row = rows.filter(name=name, language=language).first()
    if row is None:
        raise Unprocessable(
            f"No template {name!r} in {language} is known for this account (manage.py sync_templates).",
            "unknown_template",
        )
    if row.status not in SENDABLE_STATUSES:
        raise Unprocessable(
            f"The template {name!r} in {language} is {row.status}, not APPROVED: Meta would refuse it.",
            "template_not_approved",
        )
    problem = parameter_problem(row.components, template.get("components"))
    if problem is not None:
        raise Unprocessable(problem, "template_parameters")
    return rendered_body(row.components, template.get("components"))
