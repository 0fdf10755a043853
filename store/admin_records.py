"""Django admin of the records beside messages: statuses, raw webhooks, the event log, numbers, tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.functions import Length
from django.utils.html import format_html

from store.admin_base import (
    WEBHOOK_BODY_PREVIEW_BYTES,
    ModelAdmin,
    ViewOnlyAdmin,
    pretty_json,
    received_fields,
    shorten,
)
from store.credentials import revoke_tokens
from store.models import (
    ApiToken,
    HubEvent,
    MessageTemplate,
    WebhookEvent,
    WhatsAppBusinessNumber,
    WhatsAppMessageStatus,
)

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.utils.safestring import SafeString


@admin.register(WhatsAppMessageStatus)
class WhatsAppMessageStatusAdmin(ViewOnlyAdmin[WhatsAppMessageStatus]):
    list_display = ("wamid", "status", "timestamp", "recipient_id", "message", "pricing_category")
    list_select_related = ("message",)
    list_filter = ("status", "pricing_category", "timestamp")
    search_fields = ("=wamid", "recipient_id")
    search_help_text = "An exact wamid, or the recipient's phone number or BSUID."
    fields = (
        "wamid",
        "message",
        "status",
        "timestamp",
        "received_at",
        "recipient_id",
        "business_phone_number_id",
        "conversation_id",
        "conversation_origin",
        "conversation_expires_at",
        "pricing_billable",
        "pricing_model",
        "pricing_category",
        "pricing_type",
        "biz_opaque_callback_data",
        "errors",
        "raw_pretty",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WhatsAppMessageStatus]:
        return super().get_queryset(request).defer("raw")

    @admin.display(description="raw")
    def raw_pretty(self, obj: WhatsAppMessageStatus) -> SafeString:
        return pretty_json(obj.raw)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ViewOnlyAdmin[WebhookEvent]):
    list_display = ("id", "received_at", "processed_at", "body_size", "short_error")
    list_filter = ("received_at", "processed_at")
    date_hierarchy = "received_at"
    fields = ("received_at", "processed_at", "error", "body_size", "body_text")
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        # A body may be megabytes: the list reads its length from the database, not the bytes.
        return super().get_queryset(request).annotate(body_length=Length("body")).defer("body")

    @admin.display(description="body size (bytes)", ordering="body_length")
    def body_size(self, obj: WebhookEvent) -> int:
        length: int | None = getattr(obj, "body_length", None)
        return length if length is not None else len(bytes(obj.body))

    @admin.display(description="error")
    def short_error(self, obj: WebhookEvent) -> str:
        return shorten(obj.error)

    @admin.display(description="body")
    def body_text(self, obj: WebhookEvent) -> SafeString:
        body = bytes(obj.body)
        text = body[:WEBHOOK_BODY_PREVIEW_BYTES].decode("utf-8", errors="replace")
        if len(body) > WEBHOOK_BODY_PREVIEW_BYTES:
            text += f"\n… ({len(body) - WEBHOOK_BODY_PREVIEW_BYTES} more bytes)"
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


@admin.register(HubEvent)
class HubEventAdmin(ViewOnlyAdmin[HubEvent]):
    list_display = ("seq", "type", "conversation", "created_at")
    list_select_related = ("conversation",)
    list_filter = ("type", "created_at")
    search_fields = ("conversation__phone_number", "conversation__user_id", "conversation__contact_name")
    fields = ("seq", "type", "conversation", "created_at", "payload_pretty")
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_pretty(self, obj: HubEvent) -> SafeString:
        return pretty_json(obj.payload)


@admin.register(WhatsAppBusinessNumber)
class WhatsAppBusinessNumberAdmin(ViewOnlyAdmin[WhatsAppBusinessNumber]):
    list_display = ("phone_number_id", "display_phone_number", "waba_id", "created_at")
    search_fields = ("phone_number_id", "display_phone_number", "waba_id")
    readonly_fields = received_fields(WhatsAppBusinessNumber, editable=())


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin[ApiToken]):
    """Tokens are issued by `manage.py issue_token`; listed here, revoked (expired now) or deleted."""

    list_display = ("prefix", "user", "scope", "created_at", "expires_at", "last_used_at")
    list_select_related = ("user",)
    list_filter = ("business_phone_number_id",)
    search_fields = ("prefix", "user__username")
    # The hash is never shown: `key_hash` is in neither `fields` nor `list_display`.
    fields = (
        "prefix",
        "user",
        "business_phone_number_id",
        "phones",
        "created_at",
        "last_used_at",
        "expires_at",
    )
    readonly_fields = ("prefix", "user", "business_phone_number_id", "phones", "created_at", "last_used_at")

    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens (their sockets close within the re-check interval)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = revoke_tokens(queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)

    @admin.display(description="scope")
    def scope(self, obj: ApiToken) -> str:
        parts = []
        if obj.business_phone_number_id:
            parts.append(f"business {obj.business_phone_number_id}")
        if obj.phones:
            parts.append("phones " + ", ".join(str(phone) for phone in obj.phones))
        return "; ".join(parts) or "all conversations"


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ViewOnlyAdmin[MessageTemplate]):
    """Templates come from Meta (`manage.py sync_templates` and the status webhook): read-only here."""

    list_display = ("name", "language", "status", "category", "waba_id", "updated_at")
    list_filter = ("status", "category", "language")
    search_fields = ("name", "=template_id", "=waba_id")
    search_help_text = "A template's name, or an exact template or WABA id."
    fields = (
        "name",
        "language",
        "status",
        "reason",
        "category",
        "template_id",
        "waba_id",
        "updated_at",
        "components_pretty",
    )
    readonly_fields = fields

    @admin.display(description="components")
    def components_pretty(self, obj: MessageTemplate) -> SafeString:
        return pretty_json(obj.components)
