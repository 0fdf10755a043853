"""Which function runs each kind of durable job."""

from __future__ import annotations

from outbound.media import download_media_job
from outbound.worker import Handler
from store.actions.record import MEDIA_DOWNLOAD_JOB

HANDLERS: dict[str, Handler] = {MEDIA_DOWNLOAD_JOB: download_media_job}
