"""Shared parts of the `whatsapp` admin: received data read-only, escaping helpers, base classes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.utils.html import format_html

from store.models import (
    WhatsAppMessage,
    WhatsAppMessageStatus,
)

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.utils.safestring import SafeString

    ModelAdmin = admin.ModelAdmin
    TabularInline = admin.TabularInline
else:
    # django-stubs types the admin classes as generics; Django's runtime classes are not subscriptable.
    class ModelAdmin(admin.ModelAdmin):
        __class_getitem__ = classmethod(lambda cls, _params: cls)

    class TabularInline(admin.TabularInline):
        __class_getitem__ = classmethod(lambda cls, _params: cls)


_M = TypeVar("_M", bound=Model)

SHORT_TEXT_CHARS = 80
WEBHOOK_BODY_PREVIEW_BYTES = 10 * 1024
# Only the hub's own media URLs (relative) or http(s) ones become links; never `javascript:` and the like.
SAFE_URL_PREFIXES = ("/", "https://", "http://")


def received_fields(model: type[Model], *, editable: tuple[str, ...] = ("notes",)) -> tuple[str, ...]:
    """Every concrete field of `model` except the ones agents may edit."""
    return tuple(
        field.name
        for field in model._meta.get_fields()
        if field.concrete and not field.auto_created and field.name not in editable
    )


def pretty_json(value: object) -> SafeString:
    """JSON indented in a <pre>, escaped: a webhook's strings never become markup."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


def isolated(text: str) -> str:
    """User text inside `<bdi>`: a right-to-left override in a name or text reorders only that text."""
    return format_html("<bdi>{}</bdi>", text) if text else ""


def shorten(text: str, limit: int = SHORT_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ReceivedDataAdmin(ModelAdmin[_M]):
    """Rows that come from Meta (or from the hub's own log): never added or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        # Deleting would leave conversation counters and the replayable event log inconsistent.
        return False


class ViewOnlyAdmin(ReceivedDataAdmin[_M]):
    """Received rows with nothing an agent may edit."""

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False


class StatusInline(TabularInline[WhatsAppMessageStatus, WhatsAppMessage]):
    """The status history Meta reported for a message, oldest first."""

    model = WhatsAppMessageStatus
    fk_name = "message"
    fields = ("status", "timestamp", "recipient_id", "pricing_category", "pricing_billable", "errors")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: WhatsAppMessage | None = None) -> bool:
        return False

    # Django passes the parent message; the stubs name the inline's model: accept either.
    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
