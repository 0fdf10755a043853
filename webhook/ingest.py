"""Placeholder: replaced by the parser's mapping."""
from typing import Any

from store.records import IngestBatch


def batch_from_payload(payload: Any) -> IngestBatch:
    return IngestBatch()
