"""A batch's identifiers in the form their columns store them, before anything is looked up.

A wamid longer than its column, or holding a NUL, is stored cut and cleaned; looked up as Meta sent it,
the redelivery would miss the stored row, insert it again and fail on the unique constraint for ever.
"""

from __future__ import annotations

from dataclasses import replace

from store.columns import fit
from store.models import WhatsAppMessage, WhatsAppMessageStatus
from store.records import IngestBatch, MessageRecord, StatusRecord


def normalised(batch: IngestBatch) -> IngestBatch:
    return IngestBatch(
        businesses=batch.businesses,
        customers=batch.customers,
        messages=[_message(m) for m in batch.messages],
        statuses=[_status(s) for s in batch.statuses],
        templates=batch.templates,
    )


def _message(record: MessageRecord) -> MessageRecord:
    wamid = fit(WhatsAppMessage, "message_id", record.wamid)
    change = record.change
    if change is not None:
        target = fit(WhatsAppMessage, "message_id", change.target_wamid)
        if target != change.target_wamid:
            change = replace(change, target_wamid=target)
    if wamid == record.wamid and change is record.change:
        return record
    return replace(record, wamid=wamid, change=change)


def _status(record: StatusRecord) -> StatusRecord:
    wamid = fit(WhatsAppMessageStatus, "wamid", record.wamid)
    status = fit(WhatsAppMessageStatus, "status", record.status)
    if wamid == record.wamid and status == record.status:
        return record
    return replace(record, wamid=wamid, status=status)
