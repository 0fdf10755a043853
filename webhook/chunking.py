"""A big batch in chunks of bounded size, so one body of thousands of messages is recorded (and its
models and events held in memory) a chunk at a time. Pure: no database."""

from __future__ import annotations

from collections.abc import Iterator

from store.records import IngestBatch

# Messages and statuses per transaction for a body that carries more.
RECORD_CHUNK = 1000
# A body this big is written in a transaction of its own, never merged with other POSTs.
BIG_BODY_BYTES = 256 * 1024


def size(batch: IngestBatch) -> int:
    return len(batch.messages) + len(batch.statuses)


def chunks(batch: IngestBatch, limit: int = RECORD_CHUNK) -> Iterator[IngestBatch]:
    """Messages, then statuses, in Meta's order; businesses, contacts and templates go with the first."""
    count = len(batch.messages)
    for start in range(0, max(size(batch), 1), limit):
        end = start + limit
        yield IngestBatch(
            businesses=batch.businesses if start == 0 else [],
            customers=batch.customers if start == 0 else [],
            messages=batch.messages[start:end] if start < count else [],
            statuses=batch.statuses[max(start - count, 0) : max(end - count, 0)],
            templates=batch.templates if start == 0 else [],
        )
