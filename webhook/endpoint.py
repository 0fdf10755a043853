"""The webhook POST as a bare ASGI endpoint, ahead of Django's middleware.

Meta's POSTs are the hub's hottest path, and under ASGI every synchronous Django middleware costs a
thread hop each way (sessions, auth, CSRF, messages... none of which a signed webhook needs): about
thirty hops per request. Here a POST costs one. The signature is the authentication; the body-size
guard (hub/limits.py) still runs first; the signature is checked before the body joins the bounded
queue of POSTs written together (webhook/group_commit.py, webhook/receive.py). This is the one POST
path: the Django view (webhook/views.py) keeps only the GET handshake.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from store.metrics import WEBHOOK_SECONDS
from webhook.group_commit import group_commit

WEBHOOK_PATH = "/api/whatsapp/webhook/"


def handles(scope: Any) -> bool:
    return bool(scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == WEBHOOK_PATH)


async def webhook_endpoint(scope: Any, receive: Any, send: Any) -> None:
    started = time.perf_counter()
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    signature = _header(scope, b"x-hub-signature-256")
    answer = await group_commit().receive(b"".join(chunks), signature)
    body = json.dumps(answer.body).encode()
    request_id = uuid.uuid4().hex.encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id),
        (b"x-content-type-options", b"nosniff"),
    ]
    if answer.retry_after is not None:
        headers.append((b"retry-after", str(answer.retry_after).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    WEBHOOK_SECONDS.labels(status=str(answer.status)).observe(time.perf_counter() - started)


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
