"""Which function runs each kind of durable job."""

from __future__ import annotations

from outbound.autoreply import send_autoreply_job
from outbound.media import download_media_job
from outbound.receipts import send_read_receipt_job
from outbound.send import send_message_job
from outbound.worker import Handler
from store.actions.autoreply_rules import AUTOREPLY_JOB
from store.actions.read import READ_RECEIPT_JOB
from store.actions.record import MEDIA_DOWNLOAD_JOB
from store.actions.send import SEND_JOB
from store.actions.team import UNSNOOZE_JOB, reopen_snoozed_job

HANDLERS: dict[str, Handler] = {
    MEDIA_DOWNLOAD_JOB: download_media_job,
    SEND_JOB: send_message_job,
    READ_RECEIPT_JOB: send_read_receipt_job,
    AUTOREPLY_JOB: send_autoreply_job,
    UNSNOOZE_JOB: reopen_snoozed_job,
}
