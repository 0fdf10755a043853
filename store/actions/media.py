"""Records the outcome of a media download on its message, with a `message.updated` event."""

from __future__ import annotations

from django.db import transaction

from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.models import MediaStatus, WhatsAppConversation, WhatsAppMessage


def media_url_of(message_pk: int) -> str:
    """The hub's own URL of a stored file; Meta's short-lived URL is never exposed."""
    return f"/api/whatsapp/media/{message_pk}/"


def record_media_downloaded(message_pk: int, *, stored_name: str, mime_type: str, sha256: str) -> bool:
    """Mark the media stored; False when it already was (a job that ran twice changes nothing)."""
    return _update(
        message_pk,
        media_status=MediaStatus.DOWNLOADED,
        media_url=media_url_of(message_pk),
        media_path=stored_name,
        media_mime_type=mime_type,
        media_sha256=sha256,
        media_error="",
    )


def record_media_failed(message_pk: int, reason: str) -> bool:
    """Mark the download failed for good, keeping the reason; False when nothing changed."""
    return _update(message_pk, media_status=MediaStatus.FAILED, media_error=reason[:500])


def _update(message_pk: int, **fields: str) -> bool:
    with transaction.atomic():
        # The conversation before the message, as every writer locks them (store/eventlog.py).
        conversation_id = WhatsAppMessage.objects.filter(pk=message_pk).values_list("conversation_id").first()
        if conversation_id is None:
            return False
        conversation = WhatsAppConversation.objects.select_for_update().get(pk=conversation_id[0])
        message = WhatsAppMessage.objects.select_for_update().filter(pk=message_pk).first()
        if message is None or message.media_status == MediaStatus.DOWNLOADED:
            return False
        for name, value in fields.items():
            if name == "media_mime_type" and not value:
                continue
            setattr(message, name, value)
        message.save(update_fields=[n for n in fields if n != "media_mime_type" or fields[n]])
        append_events([PendingEvent("message.updated", conversation, event_payload(conversation, message))])
        return True
