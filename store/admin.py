"""Django admin of the `whatsapp` app: what Meta sent is read-only; agents edit only the notes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.db.models.functions import Length
from django.urls import reverse
from django.utils.html import format_html

from store.credentials import revoke_tokens
from store.models import (
    ApiToken,
    HubEvent,
    WebhookEvent,
    WhatsAppBusinessNumber,
    WhatsAppConversation,
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


@admin.register(WhatsAppMessage)
class WhatsAppMessageAdmin(ReceivedDataAdmin[WhatsAppMessage]):
    list_display = (
        "timestamp",
        "direction",
        "from_number",
        "sender_name",
        "message_type",
        "short_text",
        "status",
        "media_link",
    )
    list_select_related = ("conversation",)
    list_filter = ("timestamp", "message_type", "direction", "status", "media_status")
    date_hierarchy = "timestamp"
    search_fields = (
        "from_number",
        "to_number",
        "conversation__phone_number",
        "conversation__user_id",
        "from_name",
        "conversation__contact_name",
        "=message_id",
    )
    search_help_text = "Phone number, BSUID, name, or an exact wamid."
    show_full_result_count = False
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "message_id",
                    "conversation",
                    "direction",
                    "from_number",
                    "to_number",
                    "from_name",
                    "message_type",
                    "timestamp",
                    "received_at",
                )
            },
        ),
        (
            "Content",
            {
                "fields": (
                    "text_body",
                    "caption",
                    "interactive_id",
                    "reply_to",
                    "latitude",
                    "longitude",
                    "location_name",
                    "location_address",
                )
            },
        ),
        (
            "Media",
            {
                "fields": (
                    "media_preview",
                    "media_status",
                    "media_id",
                    "media_mime_type",
                    "media_filename",
                    "media_sha256",
                )
            },
        ),
        (
            "Status",
            {"fields": ("status", "error_code", "error_title", "read_at", "edited_at", "revoked_at")},
        ),
        ("Notes", {"fields": ("notes",)}),
        ("As received", {"fields": ("raw_pretty",), "classes": ("collapse",)}),
    )
    readonly_fields = (*received_fields(WhatsAppMessage), "media_preview", "raw_pretty")
    inlines = (StatusInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WhatsAppMessage]:
        # `raw` can be large and the list never shows it; the change page loads it on demand.
        return super().get_queryset(request).select_related("conversation").defer("raw")

    @admin.display(description="from name", ordering="from_name")
    def sender_name(self, obj: WhatsAppMessage) -> str:
        return isolated(obj.from_name)

    @admin.display(description="text")
    def short_text(self, obj: WhatsAppMessage) -> str:
        return isolated(shorten(obj.text_body or obj.caption or obj.location_name))

    @admin.display(description="media", ordering="media_status")
    def media_link(self, obj: WhatsAppMessage) -> str:
        return _media_html(obj, thumbnail_px=40)

    @admin.display(description="media")
    def media_preview(self, obj: WhatsAppMessage) -> str:
        return _media_html(obj, thumbnail_px=320)

    @admin.display(description="raw")
    def raw_pretty(self, obj: WhatsAppMessage) -> SafeString:
        return pretty_json(obj.raw)


def _media_html(obj: WhatsAppMessage, *, thumbnail_px: int) -> str:
    url = obj.media_url or ""
    if not url.startswith(SAFE_URL_PREFIXES):
        return obj.media_status or ""
    label = obj.media_filename or obj.media_mime_type or "media"
    if obj.media_mime_type.startswith("image/"):
        return format_html(
            '<a href="{}"><img src="{}" alt="{}" style="max-height: {}px; max-width: {}px"></a>',
            url,
            url,
            label,
            thumbnail_px,
            thumbnail_px,
        )
    return format_html('<a href="{}">{}</a>', url, label)


class HasUnreadFilter(admin.SimpleListFilter):
    title = "unread messages"
    parameter_name = "has_unread"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has unread"), ("no", "All read")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(unread_count__gt=0)
        if self.value() == "no":
            return queryset.filter(unread_count=0)
        return queryset


@admin.register(WhatsAppConversation)
class WhatsAppConversationAdmin(ReceivedDataAdmin[WhatsAppConversation]):
    list_display = (
        "name",
        "phone_number",
        "user_id",
        "username",
        "business_phone_number_id",
        "message_count",
        "unread_count",
        "last_message_at",
    )
    list_filter = ("business_phone_number_id", HasUnreadFilter)
    search_fields = ("contact_name", "phone_number", "user_id", "username")
    search_help_text = "Name, phone number, BSUID or username."
    date_hierarchy = "last_message_at"
    fields = (
        "contact_name",
        "phone_number",
        "user_id",
        "username",
        "business_phone_number_id",
        "message_count",
        "unread_count",
        "messages_link",
        "last_message_at",
        "last_inbound_at",
        "last_message_preview",
        "created_at",
        "updated_at",
        "notes",
    )
    readonly_fields = (*received_fields(WhatsAppConversation), "messages_link")

    @admin.display(description="contact name", ordering="contact_name")
    def name(self, obj: WhatsAppConversation) -> str:
        return isolated(obj.contact_name) or "-"

    @admin.display(description="messages")
    def messages_link(self, obj: WhatsAppConversation) -> str:
        url = reverse("admin:whatsapp_whatsappmessage_changelist")
        return format_html('<a href="{}?conversation={}">{} messages</a>', url, obj.pk, obj.message_count)


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
