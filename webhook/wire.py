"""Defensive readers of Meta's webhook JSON, and the error object that any level of it may carry."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

JSONObject = Mapping[str, object]

EMPTY: JSONObject = {}

# Meta's ids and numbers are far shorter; longer digit strings are junk (and slow to convert).
MAX_DIGITS = 40
LARGEST_ID = 10**MAX_DIGITS


def obj(value: object) -> JSONObject:
    """`value` if it is a JSON object, else an empty one: a wrong shape reads as missing."""
    return value if isinstance(value, dict) else EMPTY


def objects(value: object) -> tuple[JSONObject, ...]:
    """The JSON objects of a list; anything else in (or instead of) the list is skipped."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, dict))


def text(value: object) -> str:
    """A string field; an integer where Meta documents a string (ids, numbers) is kept as its digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < LARGEST_ID:
        return str(value)
    return ""


def integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and 0 < len(value) <= MAX_DIGITS:
        try:
            return int(value)
        except ValueError:
            return None
    return None


def number(value: object) -> float | None:
    """A finite number (latitude, price); Meta sends numbers, some relays send them as strings."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        result = float(value)
    except (ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def flag(value: object) -> bool:
    return value is True


def optional_flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def timestamp(value: object) -> datetime | None:
    """Meta's unix-seconds timestamp (a string of digits, sometimes a number) as an aware UTC datetime."""
    seconds = integer(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorDetail:
    """An error Meta attaches to a webhook value, a message or a status.

    https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
    """

    code: int | None = None
    title: str = ""
    message: str = ""
    details: str = ""
    href: str = ""
    raw: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: JSONObject) -> ErrorDetail:
        return cls(
            code=integer(data.get("code")),
            title=text(data.get("title")),
            message=text(data.get("message")),
            details=text(obj(data.get("error_data")).get("details")),
            href=text(data.get("href")),
            raw=data,
        )


def errors(value: object) -> tuple[ErrorDetail, ...]:
    return tuple(ErrorDetail.from_dict(item) for item in objects(value))
