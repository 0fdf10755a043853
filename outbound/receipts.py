"""The read-receipt job: tells Meta an inbound message (and every earlier one) was read by an agent."""

from __future__ import annotations

import logging
from datetime import timedelta

from outbound.graph import GraphError, SendingDisabled, graph_client_from_settings
from outbound.worker import PermanentFailure, RetryLater
from store.models import Job

logger = logging.getLogger(__name__)


async def send_read_receipt_job(job: Job) -> None:
    """Called by the worker for each `receipt.read` job; a transient failure is retried with backoff."""
    business, wamid = job.payload.get("business"), job.payload.get("wamid")
    if not isinstance(business, str) or not isinstance(wamid, str) or not business or not wamid:
        raise PermanentFailure("receipt job without business number or wamid")
    try:
        async with graph_client_from_settings(max_retries=0) as client:
            await client.mark_read(business, wamid)
    except SendingDisabled as disabled:
        raise PermanentFailure(str(disabled)) from disabled
    except GraphError as error:
        if not error.retryable:
            logger.warning("read receipt for a message of %s refused: %r", business, error)
            raise PermanentFailure(str(error)) from error
        delay = timedelta(seconds=error.retry_after) if error.retry_after else None
        raise RetryLater(str(error), delay) from error
