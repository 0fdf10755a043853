"""Django admin of the `whatsapp` app: what Meta sent is read-only; agents edit only the notes.

Messages and conversations here; statuses, raw webhooks, the event log, numbers and tokens in
`store/admin_records.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html

from store.admin_base import (
    SAFE_URL_PREFIXES,
    ReceivedDataAdmin,
    StatusInline,
    isolated,
    pretty_json,
    received_fields,
    shorten,
)
from store.models import (
    WhatsAppConversation,
    WhatsAppMessage,
)

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.utils.safestring import SafeString


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


from store import admin_records  # noqa: E402, F401  (registers the other models' admin)
