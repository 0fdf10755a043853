"""ASGI guard that refuses oversize request bodies with 413 before Django reads them."""

from __future__ import annotations

import json
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope
from django.conf import settings

Scope = HTTPScope | dict[str, Any]


class BodySizeLimit:
    """Django's ASGI handler spools any body to disk before the view runs; this stops it first.

    A declared Content-Length over the limit is answered at once; a chunked body is counted as it
    streams and cut off at the limit.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send, limit)
            return
        received = 0

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await _send_413(send, limit)


class BodyTooLarge(Exception):
    """A streamed body crossed the limit."""


def _content_length(scope: Any) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: ASGISendCallable, limit: int) -> None:
    body = json.dumps(
        {"error": "payload_too_large", "detail": f"Request bodies are limited to {limit} bytes."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
