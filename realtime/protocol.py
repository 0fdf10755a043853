"""The WebSocket protocol's vocabulary (docs/websocket.md): close codes, client frames, replies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypedDict

CLOSE_TOO_SLOW = 4008
CLOSE_PROTOCOL_MISUSE = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_INTERNAL_ERROR = 1011

PONG = '{"type":"pong"}'
RESYNC_REQUIRED = '{"type":"resync_required"}'
MAX_MESSAGE_IDS = 1000

_SEQ = re.compile(r"\d{1,18}")


class FrameError(Exception):
    """A client frame the server cannot act on; answered with an `error` frame, the socket stays open."""

    def __init__(self, detail: str, code: str = "invalid_frame") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ErrorFrame(TypedDict, total=False):
    type: Literal["error"]
    error: str
    detail: str
    request_id: str | int


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkReadRequest:
    customer: str | None = None
    business: str | None = None
    message_ids: list[int | str] | None = None


def parse_after(value: str | None) -> int | None:
    """The `?after=` seq: absent is None; anything but a non-negative integer raises ValueError."""
    if value is None:
        return None
    if not _SEQ.fullmatch(value):
        raise ValueError("after must be a non-negative integer")
    return int(value)


def parse_client_frame(text: str | None) -> dict[str, object]:
    if text is None:
        raise FrameError("Frames are JSON text, not binary.")
    try:
        data = json.loads(text)
    except ValueError:
        raise FrameError("The frame is not valid JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise FrameError('A frame is a JSON object with a string "type".')
    return data


def request_id_of(frame: Mapping[str, object]) -> str | int | None:
    value = frame.get("request_id")
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def parse_mark_read(
    frame: Mapping[str, object], *, default_customer: str | None = None, default_business: str | None = None
) -> MarkReadRequest:
    """`{"type": "mark_read", "phone_number" | "message_ids", "business"?}`; a conversation socket may omit
    both and means its own conversation."""
    customer = frame.get("phone_number")
    message_ids = frame.get("message_ids")
    business = frame.get("business")
    if business is not None and not isinstance(business, str):
        raise FrameError('"business" must be a string.', "invalid_request")
    if customer is not None and message_ids is not None:
        raise FrameError('Give "phone_number" or "message_ids", not both.', "invalid_request")
    if message_ids is not None:
        if (
            not isinstance(message_ids, list)
            or not message_ids
            or len(message_ids) > MAX_MESSAGE_IDS
            or not all(isinstance(i, str | int) and not isinstance(i, bool) for i in message_ids)
        ):
            raise FrameError(
                f'"message_ids" must be a list of 1 to {MAX_MESSAGE_IDS} ids or wamids.', "invalid_request"
            )
        return MarkReadRequest(message_ids=list(message_ids), business=business)
    if customer is None:
        if default_customer is None:
            raise FrameError('Give "phone_number" or "message_ids".', "invalid_request")
        return MarkReadRequest(customer=default_customer, business=business or default_business)
    if not isinstance(customer, str) or not customer:
        raise FrameError('"phone_number" must be a non-empty string.', "invalid_request")
    return MarkReadRequest(customer=customer, business=business)


def encode(frame: Mapping[str, object]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def error_frame(code: str, detail: str, request_id: str | int | None = None) -> str:
    frame: ErrorFrame = {"type": "error", "error": code, "detail": detail}
    if request_id is not None:
        frame["request_id"] = request_id
    return encode(frame)
