"""The media download job: Meta's metadata, the file with the bearer token, checks, storage, event."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from outbound.graph import GraphError, graph_client_from_settings
from outbound.media_guard import (
    MediaRefused,
    check_media_url,
    check_public_addresses,
    limit_for,
    safe_storage_name,
    sha256_matches,
)
from outbound.worker import PermanentFailure, RetryLater
from store.actions.media import record_media_downloaded, record_media_failed
from store.models import Job, MediaStatus, WhatsAppMessage

logger = logging.getLogger(__name__)


async def download_media_job(job: Job) -> None:
    message = await WhatsAppMessage.objects.filter(pk=job.payload.get("message_id")).afirst()
    if message is None or message.media_status == MediaStatus.DOWNLOADED or not message.media_id:
        return
    try:
        await _download(message)
    except MediaRefused as refused:
        await _give_up(message, str(refused))
    except GraphError as error:
        if not error.retryable:
            await _give_up(message, str(error))
        if job.attempts >= job.max_attempts:
            await _give_up(message, f"{error} (after {job.attempts} attempts)")
        delay = timedelta(seconds=error.retry_after) if error.retry_after else None
        raise RetryLater(str(error), delay) from error


async def _give_up(message: WhatsAppMessage, reason: str) -> None:
    await sync_to_async(record_media_failed)(message.pk, reason)
    raise PermanentFailure(reason)


async def _download(message: WhatsAppMessage) -> None:
    async with graph_client_from_settings() as client:
        info = await client.get_media(message.media_id)
        host = check_media_url(info.url, settings.WHATSAPP_GRAPH_URL)
        if host:
            check_public_addresses(host, await _resolve(host))
        limit = limit_for(message.message_type)
        if info.file_size and info.file_size > limit:
            raise MediaRefused(f"file of {info.file_size} bytes is over the {limit}-byte limit")
        data = await client.download_media(info.url, max_bytes=limit)
    for expected in (info.sha256, message.media_sha256):
        if not sha256_matches(data, expected):
            raise MediaRefused("sha256 of the downloaded file does not match")
    mime_type = info.mime_type or message.media_mime_type
    now = datetime.now(UTC)
    name = safe_storage_name(message.pk, data, mime_type, now.year, now.month)
    stored = await sync_to_async(default_storage.save)(name, ContentFile(data))
    changed = await sync_to_async(record_media_downloaded)(
        message.pk, stored_name=stored, mime_type=mime_type, sha256=info.sha256 or message.media_sha256
    )
    if not changed:
        # Another run stored it first; keep one copy.
        await sync_to_async(default_storage.delete)(stored)


async def _resolve(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except OSError as error:
        raise RetryLater(f"cannot resolve {host}: {error}") from error
    return [str(info[4][0]) for info in infos]
